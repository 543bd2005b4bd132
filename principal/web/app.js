// The web view's script (docs/webview.md): follows /api/events (server-sent events, one
// "state" event per change) and draws the state into the page's tables. Every string
// from the directory goes into the page as text (textContent), never as markup: names
// are typed by people and may hold anything.
'use strict';

(function () {
	const POLL_MS = 2000;

	function el(tag, text, cls) {
		const e = document.createElement(tag);
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		if (cls)
			e.className = cls;
		return e;
	}

	function badge(state) {
		const known = state === 'up' || state === 'down' || state === 'new';
		return el('span', state || 'unknown', 'badge ' + (known ? state : 'unknown'));
	}

	function duration(s) {
		if (typeof s !== 'number' || s < 0)
			return '';
		if (s < 60)
			return s + ' s';
		if (s < 3600)
			return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
		return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
	}

	function ago(then, now) {
		return typeof then === 'number' ? duration(Math.max(0, now - then)) + ' ago' : 'never';
	}

	function bytes(n) {
		if (typeof n !== 'number')
			return '';
		const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
		let i = 0;
		while (n >= 1024 && i < units.length - 1) {
			n /= 1024;
			i++;
		}
		return (i ? n.toFixed(1) : n) + ' ' + units[i];
	}

	function rate(bps) {
		if (typeof bps !== 'number')
			return '—';
		const bits = bps * 8;
		if (bits >= 1e9)
			return (bits / 1e9).toFixed(2) + ' Gbit/s';
		if (bits >= 1e6)
			return (bits / 1e6).toFixed(2) + ' Mbit/s';
		if (bits >= 1e3)
			return (bits / 1e3).toFixed(1) + ' kbit/s';
		return bits.toFixed(0) + ' bit/s';
	}

	function party(name, lan) {
		const text = lan && String(name).indexOf('@') < 0 ? name + ' (' + lan + ')' : name;
		return {text: text, cls: 'party'};
	}

	// A cell is text, a node, or {text, cls} for a text cell with a class.
	function row(cells, attrs) {
		const tr = el('tr');
		for (const c of cells) {
			if (c instanceof Node) {
				const td = el('td');
				td.appendChild(c);
				tr.appendChild(td);
			} else if (c !== null && typeof c === 'object') {
				tr.appendChild(el('td', c.text, c.cls));
			} else {
				tr.appendChild(el('td', c));
			}
		}
		for (const k in attrs || {})
			tr.setAttribute('data-' + k, String(attrs[k]));
		return tr;
	}

	function fill(id, rows, columns, empty, truncated) {
		const body = document.querySelector('#' + id + ' tbody');
		const fresh = document.createElement('tbody');
		for (const r of rows)
			fresh.appendChild(r);
		if (rows.length === 0) {
			const td = el('td', empty, 'empty');
			td.colSpan = columns;
			fresh.appendChild(el('tr')).appendChild(td);
		}
		if (truncated) {
			const td = el('td', 'more not shown', 'empty');
			td.colSpan = columns;
			fresh.appendChild(el('tr')).appendChild(td);
		}
		body.replaceWith(fresh);
	}

	function gateways(site, now) {
		const box = el('div');
		for (const g of site.gateways || []) {
			const line = el('span', null, 'gw');
			line.appendChild(el('span', g.name + ' '));
			line.appendChild(badge(g.state));
			line.appendChild(el('small', ' ' + (g.role || '') + ', ' +
					    ago(g.last_heartbeat, now)));
			box.appendChild(line);
		}
		if (!box.firstChild)
			box.appendChild(el('span', 'none', 'muted'));
		return box;
	}

	function drawSites(st) {
		const rows = (st.sites || []).map(s => row([s.name, (s.prefixes || []).join(' '),
			badge(s.gateway ? s.state : 'down'), gateways(s, st.generated_at),
			ago(s.last_heartbeat, st.generated_at)],
			{site: s.name, state: s.gateway ? s.state : 'down'}));
		fill('sites', rows, 5, 'No sites yet.', st.truncated && st.truncated.sites);
	}

	function drawCalls(st) {
		const calls = st.calls || [];
		const rows = calls.map(c => row([party(c.caller, c.caller_lan),
			party(c.callee, c.callee_lan), {text: duration(c.seconds), cls: 'num'},
			c.path || '', {text: rate(c.rate_up), cls: 'num rate'},
			{text: rate(c.rate_down), cls: 'num rate'}], {call: c.id}));
		const rated = calls.some(c => typeof c.rate_up === 'number' ||
					 typeof c.rate_down === 'number');
		document.getElementById('calls').classList.toggle('no-rates', !rated);
		document.getElementById('calls-count').textContent = '(' + calls.length + ')';
		fill('calls', rows, rated ? 6 : 4, 'No call in progress.',
		     st.truncated && st.truncated.calls);
	}

	function drawLinks(st) {
		const rows = (st.links || []).map(l => row([l.a, l.b, l.kind,
			l.rtt_ms + ' ms', (typeof l.loss_pct === 'number' ? l.loss_pct.toFixed(1) : '') + ' %',
			typeof l.cost === 'number' ? l.cost.toFixed(1) : ''], {a: l.a, b: l.b}));
		fill('links', rows, 6, 'No link measured yet (links appear while calls run).',
		     st.truncated && st.truncated.links);
	}

	function drawRooms(st) {
		const rows = (st.rooms || []).map(r => {
			const list = el('ul');
			for (const m of r.members || [])
				list.appendChild(el('li', m.user + ' at ' + m.host + ' → ' + m.address));
			if (r.members_total > (r.members || []).length)
				list.appendChild(el('li', (r.members_total - r.members.length) + ' more',
						    'muted'));
			const who = r.members_total ? list : el('span', 'nobody', 'muted');
			return row([r.name, r.network + (r.network6 ? ' ' + r.network6 : ''), who],
				   {room: r.name});
		});
		fill('rooms', rows, 3, 'No rooms.', st.truncated && st.truncated.rooms);
	}

	function drawHistory(st) {
		const rows = (st.history || []).map(c => row([party(c.caller, c.caller_lan),
			party(c.callee, c.callee_lan), ago(c.ended_at, st.generated_at),
			duration(c.seconds), bytes(c.bytes_up) + ' ↑ ' + bytes(c.bytes_down) + ' ↓',
			c.path || '', c.end_reason || ''], {call: c.id}));
		fill('history', rows, 7, 'No call has ended yet.', st.truncated && st.truncated.history);
	}

	function draw(st) {
		document.getElementById('principal').textContent = st.principal || '';
		drawSites(st);
		drawCalls(st);
		drawLinks(st);
		drawRooms(st);
		drawHistory(st);
		const status = document.getElementById('status');
		status.textContent = 'live, updated ' + new Date(st.generated_at * 1000).toLocaleTimeString();
		status.setAttribute('data-live', 'yes');
		document.body.setAttribute('data-generated', String(st.generated_at));
	}

	function offline(why) {
		const status = document.getElementById('status');
		status.textContent = why;
		status.setAttribute('data-live', 'no');
	}

	function poll() {
		fetch('/api/state', {cache: 'no-store'})
			.then(r => r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status)))
			.then(draw, e => offline('cannot reach the principal (' + e.message + ')'))
			.finally(() => setTimeout(poll, POLL_MS));
	}

	function follow() {
		if (!window.EventSource) {
			poll();
			return;
		}
		const events = new EventSource('/api/events');
		events.addEventListener('state', e => draw(JSON.parse(e.data)));
		// EventSource reconnects by itself; say so meanwhile.
		events.onerror = () => offline('reconnecting…');
	}

	document.addEventListener('DOMContentLoaded', follow);
})();
