#!/usr/bin/env python3
"""Keeps the manual pages (man/*.scd) in step with the programs and their configuration.

check.py SOURCE_ROOT BUILD_ROOT: fails when a command, a verb or an option that a
program's --help lists, or a key of a configuration schema, is missing from its page, or
when a built page makes groff warn. Exit 77 (skip) when the pages were not built (no
scdoc at configure time)."""
import os
import re
import subprocess
import sys

src, build = sys.argv[1], sys.argv[2]
failures = []


def page_text(name):
    with open(os.path.join(src, 'man', name + '.scd'), encoding='utf-8') as f:
        return f.read()


def help_of(program, *args):
    exe = os.path.join(build, program)
    r = subprocess.run([exe, *args, '--help'], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def commands_listed(text):
    """The names under "Commands:" in a program's --help."""
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith('Commands:'):
            inside = True
        elif inside and line.startswith('  '):
            names.append(line.split()[0])
        elif inside and line.strip() and not line.startswith(' '):
            inside = False
    return names


def options_in(text):
    return set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', text))


def require(page, text, needle, what):
    if needle not in text:
        failures.append('%s: %s is not documented (looked for %r)' % (page, what, needle))


def check_program(program, page, verbs_of=None, extra=()):
    text = page_text(page)
    top = help_of(program)
    commands = commands_listed(top)
    if not commands:
        failures.append('%s --help lists no commands' % program)
    for cmd in commands:
        require(page, text, '*' + cmd, 'command %r' % cmd)
        sub = help_of(program, cmd)
        for opt in options_in(sub):
            require(page, text, opt + '*', 'option %s of %r' % (opt, cmd))
        if verbs_of:
            for verb in verbs_of(cmd, sub):
                require(page, text, '*%s %s*' % (cmd, verb), 'verb %r %r' % (cmd, verb))
    for opt in extra:
        require(page, text, opt, 'option %s' % opt)


def principal_verbs(cmd, sub):
    """`insel-principal FAMILY --help` lists "  insel-principal FAMILY VERB ..." lines;
    pki has its own usage lines."""
    return re.findall(r'^\s+insel-principal %s ([a-z][a-z-]*)' % re.escape(cmd), sub, re.M)


def client_verbs(cmd, sub):
    if cmd != 'room':
        return []
    verbs = []
    for group in re.findall(r'^\s+insel room ([a-z|]+)', sub, re.M):
        verbs += group.split('|')
    return verbs


def client_room_page_verbs(cmd, sub):
    return client_verbs(cmd, sub)


def schema_keys(path):
    """(section, key) of every entry of a cfg_key table in a C file."""
    with open(os.path.join(src, path), encoding='utf-8') as f:
        code = f.read()
    return re.findall(r'\{"([a-z *]+)", "([a-z0-9_]+)", CFG_', code)


def check_config(page, schema_file):
    text = page_text(page)
    sections = {}
    for block in re.split(r'^## ', text, flags=re.M)[1:]:
        header = block.split('\n', 1)[0].strip()
        m = re.match(r'\[([a-z]+)(?: [A-Z]+)?\]', header)
        if m:
            name = m.group(1) + (' *' if ' ' in header else '')
            sections[name] = block
    for section, key in schema_keys(schema_file):
        if section not in sections:
            failures.append('%s: section [%s] is not documented' % (page, section))
            continue
        require(page, sections[section], '*%s*\n' % key, 'key %s in [%s]' % (key, section))


def check_rendered(name):
    built = os.path.join(build, 'man', name)
    r = subprocess.run(['groff', '-man', '-ww', '-z', '-Tutf8', built],
                       capture_output=True, text=True, timeout=30)
    if r.returncode or r.stderr.strip():
        failures.append('%s: groff warns: %s' % (name, r.stderr.strip()))


pages = ['insel.1', 'insel-principal.8', 'insel-secondary.8', 'insel-auxiliary.8',
         'insel-relay.8', 'insel-pki-bootstrap.8', 'insel-principal.conf.5',
         'insel-secondary.conf.5']
if not all(os.path.exists(os.path.join(build, 'man', p)) for p in pages):
    print('SKIP: the manual pages were not built (no scdoc at configure time)')
    sys.exit(77)

check_program('principal/insel-principal', 'insel-principal.8', principal_verbs)
check_program('client/insel', 'insel.1', client_verbs,
              extra=['*--secondary*', '*--ca*', '*--user*', '*--password-file*',
                     '*--source*', '*--json*'])
check_program('secondary/insel-secondary', 'insel-secondary.8')
check_program('auxiliary/insel-auxiliary', 'insel-auxiliary.8')
check_program('relay/insel-relay', 'insel-relay.8')
check_config('insel-secondary.conf.5', 'secondary/config.c')
check_config('insel-principal.conf.5', 'principal/cmd_serve.c')
for p in pages:
    check_rendered(p)

for f in failures:
    print('FAIL', f)
print('%d pages checked, %d problems' % (len(pages), len(failures)))
sys.exit(1 if failures else 0)
