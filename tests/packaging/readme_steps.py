#!/usr/bin/env python3
"""Extracts the operator's steps from README.md for tests/packaging/operator.sh.

readme_steps.py README OUTDIR: writes OUTDIR/NNN.step, one per step in the README's
order, and OUTDIR/NNN.sh for each command block. A step is either
  block HOST [FLAGS...]     the ```sh block right after "<!-- operator: HOST FLAGS -->"
  carry FROM:PATH TO:DIR... from "<!-- operator-carry: FROM:PATH -> TO:DIR ... -->"
Fails when a marker has no block after it, or when the README has no steps."""
import os
import re
import sys

readme, out = sys.argv[1], sys.argv[2]
lines = open(readme, encoding='utf-8').read().split('\n')
steps = []
i = 0
while i < len(lines):
    line = lines[i].strip()
    m = re.fullmatch(r'<!-- operator: (.+?) -->', line)
    c = re.fullmatch(r'<!-- operator-carry: (\S+) -> (.+?) -->', line)
    if m:
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or lines[j].strip() != '```sh':
            sys.exit('README line %d: an operator marker without a ```sh block after it' % (i + 1))
        k = j + 1
        while k < len(lines) and lines[k].strip() != '```':
            k += 1
        steps.append(('block ' + m.group(1), '\n'.join(lines[j + 1:k]) + '\n'))
        i = k
    elif c:
        steps.append(('carry %s %s' % (c.group(1), c.group(2)), None))
    i += 1
if not steps:
    sys.exit('README has no operator steps')
os.makedirs(out, exist_ok=True)
for n, (head, body) in enumerate(steps):
    with open(os.path.join(out, '%03d.step' % n), 'w') as f:
        f.write(head + '\n')
    if body is not None:
        with open(os.path.join(out, '%03d.sh' % n), 'w') as f:
            f.write(body)
print(len(steps))
