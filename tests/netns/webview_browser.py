#!/usr/bin/python3
# The web view in a real headless Chromium (tests/netns/webview.sh drives it): loads the
# page, waits for both sites up and the room, checks that a hostile directory string is shown as text
# and runs nothing, then follows the test's steps through files in --sync DIR:
#   writes "ready"    (page up, both sites up)  -> the test places a call, writes "call"
#   waits for the call's row, takes the screenshot, writes "seen" -> the test hangs up,
#   writes "hungup"   -> waits for the row to leave the live calls, writes "done".
# Prints one line per step with the time it took. Exit 77 when Chromium cannot start.
import argparse
import json
import os
import sys
import time

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
except ImportError as e:
    print('SKIP: python3-selenium is missing (%s)' % e)
    sys.exit(77)


def start_browser(profile):
    o = webdriver.ChromeOptions()
    # --no-sandbox: the test runs as root inside a network namespace, and Chromium's
    # sandbox refuses to start as root; the page it loads is our own, from loopback.
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
              '--window-size=1280,1000', '--no-first-run', '--no-default-browser-check',
              '--disable-background-networking', '--disable-component-update',
              '--disable-sync', '--disable-extensions', '--user-data-dir=' + profile):
        o.add_argument(a)
    o.binary_location = '/usr/bin/chromium'
    o.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    return webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=o)


def wait_for(what, cond, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if cond():
                print('ok - %s (%.1f s)' % (what, time.monotonic() - t0), flush=True)
                return True
        except WebDriverException:
            pass
        time.sleep(0.1)
    print('FAIL - %s: not within %d s' % (what, timeout), flush=True)
    return False


def wait_file(path, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip()
        time.sleep(0.1)
    return None


def js(d, code, *args):
    return d.execute_script(code, *args)


def site_up(d, name):
    return js(d, 'return !!document.querySelector(\'#sites tr[data-site="%s"][data-state="up"]\')'
              % name)


def call_row(d, table, call):
    return js(d, 'return !!document.querySelector(\'#%s tr[data-call="%s"]\')' % (table, call))


def hostile_is_text(d, hostile):
    # Shown, as the very text it is...
    shown = js(d, 'return Array.from(document.querySelectorAll("#history td"))'
                  '.some(td => td.textContent.indexOf(arguments[0]) >= 0)', hostile)
    # ...and nothing of it ran or became an element.
    ran = js(d, 'return window.__pwned === 1')
    extra = js(d, 'return document.querySelectorAll("script").length !== 1 || '
                  'document.querySelectorAll("img, iframe").length !== 0')
    return shown and not ran and not extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--url', required=True)
    ap.add_argument('--sync', required=True)
    ap.add_argument('--screenshot', required=True)
    ap.add_argument('--profile', required=True)
    ap.add_argument('--hostile', required=True)
    a = ap.parse_args()
    t0 = time.monotonic()
    try:
        d = start_browser(a.profile)
    except WebDriverException as e:
        print('SKIP: Chromium cannot start here: %s' % str(e).splitlines()[0])
        return 77
    print('ok - Chromium started (%.1f s)' % (time.monotonic() - t0), flush=True)
    ok = True
    try:
        d.get(a.url)
        ok &= wait_for('the page draws a live state',
                       lambda: js(d, 'return document.getElementById("status")'
                                     '.getAttribute("data-live") === "yes"'), 15)
        ok &= wait_for('both sites are shown up',
                       lambda: site_up(d, 'lan-a') and site_up(d, 'lan-b'), 20)
        ok &= wait_for('the room is shown with both members',
                       lambda: js(d, 'const r = document.querySelector(\'#rooms tr[data-room="games"]\');'
                                     'return !!r && r.textContent.includes("alice@lan-a") &&'
                                     ' r.textContent.includes("bob@lan-b")'), 10)
        ok &= wait_for('a hostile name is shown as text and runs nothing',
                       lambda: hostile_is_text(d, a.hostile), 10)
        open(os.path.join(a.sync, 'ready'), 'w').close()
        call = wait_file(os.path.join(a.sync, 'call'), 40)
        if not call:
            print('FAIL - the test placed no call')
            return 1
        ok &= wait_for('the call appears in the live calls',
                       lambda: call_row(d, 'calls', call), 10)
        time.sleep(1.5)  # a second tick, so that the duration is not 0
        d.save_screenshot(a.screenshot)
        print('ok - screenshot in %s' % a.screenshot, flush=True)
        open(os.path.join(a.sync, 'seen'), 'w').close()
        if wait_file(os.path.join(a.sync, 'hungup'), 30) is None:
            print('FAIL - the test did not hang up')
            return 1
        ok &= wait_for('the call leaves the live calls',
                       lambda: not call_row(d, 'calls', call), 10)
        ok &= wait_for('the call shows in the recent calls',
                       lambda: call_row(d, 'history', call), 10)
        errors = [e for e in d.get_log('browser') if e.get('level') == 'SEVERE']
        if errors:
            print('FAIL - the console has errors: %s' % json.dumps(errors)[:2000])
            ok = False
        else:
            print('ok - no error in the console (no CSP violation, no script error)')
    finally:
        d.quit()
        open(os.path.join(a.sync, 'done'), 'w').close()
    print('browser steps took %.1f s' % (time.monotonic() - t0))
    return 0 if ok else 1


sys.exit(main())
