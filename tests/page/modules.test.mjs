// The page's ES modules (www/*.js), checked without a browser: `node --test tests/page/modules.test.mjs`.
//
// Reads the import and export statements of every module (they start at the beginning of a line,
// as everywhere in www/) and checks: every import names a module of www/ and only names that
// module exports; the imports form no cycle; every module is reached from the entry point that
// index.html loads; worker.js is no import of the page (it runs as a Web Worker); each module opens
// with a comment saying what it does and stays under 500 lines. Then, where this node has
// vm.SourceTextModule, a child node links the real module graph (the ESM linker the browser's
// follows: a missing export is a SyntaxError) without running any of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WWW = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../www');
const WORKER = 'worker.js';
const MAX_LINES = 500;

/** The names in `{ a, b as c }`: [imported or local name, the name it goes by on the other side]. */
function names(list) {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = s.match(/^([\w$]+)(?:\s+as\s+([\w$]+))?$/);
      assert.ok(m, `cannot read the name list entry '${s}'`);
      return [m[1], m[2] || m[1]];
    });
}

/**
 * The top-level import and export statements of a module's source: {imports: [{from, names,
 * namespace}], exports: Set}. A statement may span lines; it starts at the beginning of one.
 */
function parseModule(source, file) {
  const lines = source.split('\n');
  const statements = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^(import|export)\b/.test(lines[i])) continue;
    let text = lines[i];
    // an import or a re-export lists its names until `from '…'` (or ends with `;` on its line)
    if (/^import\b|^export\s*\{/.test(text)) {
      while (!/\bfrom\s*['"][^'"]+['"]|^import\s*['"][^'"]+['"]|;\s*$/.test(text) && i + 1 < lines.length) text += `\n${lines[++i]}`;
    }
    statements.push(text);
  }
  const imports = [];
  const exports = new Set();
  for (const st of statements) {
    const flat = st.replace(/\s+/g, ' ').trim();
    let m;
    if ((m = flat.match(/^import ['"]([^'"]+)['"]/))) {
      imports.push({ from: m[1], names: [], namespace: false });
    } else if ((m = flat.match(/^import (.*?) from ['"]([^'"]+)['"]/))) {
      const [, clause, from] = m;
      const entry = { from, names: [], namespace: false };
      const braces = clause.match(/\{(.*)\}/);
      if (braces) entry.names.push(...names(braces[1]).map(([imported]) => imported));
      const head = clause.replace(/\{.*\}/, '').replace(/,/g, ' ').trim();
      if (/^\* as [\w$]+$/.test(head)) entry.namespace = true;
      else if (head) {
        assert.match(head, /^[\w$]+$/, `${file}: cannot read '${flat}'`);
        entry.names.push('default');
      }
      imports.push(entry);
    } else if ((m = flat.match(/^export \{(.*?)\}(?: from ['"]([^'"]+)['"])?/))) {
      const list = names(m[1]);
      for (const [, exported] of list) exports.add(exported);
      if (m[2]) imports.push({ from: m[2], names: list.map(([imported]) => imported), namespace: false });
    } else if ((m = flat.match(/^export (?:async )?(?:function\*?|class|const|let|var) ([\w$]+)/))) {
      exports.add(m[1]);
    } else if (/^export default\b/.test(flat)) {
      exports.add('default');
    } else if ((m = flat.match(/^export \* from ['"]([^'"]+)['"]/))) {
      imports.push({ from: m[1], names: [], namespace: true });
    } else {
      assert.fail(`${file}: cannot read the statement '${flat}'`);
    }
  }
  return { imports, exports };
}

/** Every www/*.js module: file name → {source, imports (resolved to file names), exports}. */
function readModules() {
  const modules = new Map();
  for (const file of fs.readdirSync(WWW).filter((f) => f.endsWith('.js')).sort()) {
    const source = fs.readFileSync(path.join(WWW, file), 'utf8');
    modules.set(file, { source, ...parseModule(source, file) });
  }
  for (const [file, mod] of modules) {
    for (const imp of mod.imports) {
      assert.match(imp.from, /^\.\/[\w.-]+\.js$/, `${file} imports '${imp.from}': the page's modules import each other as './name.js'`);
      imp.file = imp.from.slice(2);
      assert.ok(modules.has(imp.file), `${file} imports ${imp.from}, which is not in www/`);
    }
  }
  return modules;
}

/** The module index.html loads. */
function entryPoint() {
  const html = fs.readFileSync(path.join(WWW, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
  assert.equal(scripts.length, 1, `index.html loads one script: ${scripts.join(' | ')}`);
  assert.match(scripts[0], /\btype="module"/, 'index.html loads its script as a module');
  const src = scripts[0].match(/\bsrc="([^"]+)"/);
  assert.ok(src, 'the script has a src');
  return src[1].replace(/^\.\//, '');
}

test('every imported name is exported by its module, and every module is one of www/', () => {
  const modules = readModules();
  let checked = 0;
  for (const [file, mod] of modules) {
    for (const imp of mod.imports) {
      const target = modules.get(imp.file);
      for (const name of imp.names) {
        assert.ok(target.exports.has(name), `${file} imports '${name}' from ${imp.from}, which exports ${[...target.exports].join(', ') || 'nothing'}`);
        checked += 1;
      }
    }
  }
  assert.ok(checked > 20, `only ${checked} imported names found: is the parser reading the modules?`);
});

test('the modules import each other without a cycle, all reached from the entry point', () => {
  const modules = readModules();
  const entry = entryPoint();
  assert.ok(modules.has(entry), `index.html loads ${entry}, which is not in www/`);
  // Depth-first: a module met again while it is on the path closes a cycle.
  const state = new Map(); // file → 'open' | 'done'
  const visit = (file, trail) => {
    if (state.get(file) === 'done') return;
    assert.notEqual(state.get(file), 'open', `import cycle: ${[...trail, file].join(' → ')}`);
    state.set(file, 'open');
    for (const imp of modules.get(file).imports) visit(imp.file, [...trail, file]);
    state.set(file, 'done');
  };
  visit(entry, []);
  for (const file of modules.keys()) visit(file, []);
  const reached = new Set();
  const reach = (file) => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const imp of modules.get(file).imports) reach(imp.file);
  };
  reach(entry);
  const unreached = [...modules.keys()].filter((f) => !reached.has(f) && f !== WORKER);
  assert.deepEqual(unreached, [], `modules that ${entry} never imports`);
  assert.ok(!reached.has(WORKER), `${WORKER} runs as a Web Worker: no page module imports it`);
  assert.deepEqual(modules.get(WORKER).imports, [], `${WORKER} imports no page module (it loads the WASM module itself)`);
  assert.ok([...modules.values()].some((m) => m.source.includes(`new URL('./${WORKER}', import.meta.url)`)), `some module starts ${WORKER}`);
});

test('each module opens with a comment on what it does and stays under 500 lines', () => {
  for (const [file, { source }] of readModules()) {
    assert.match(source, /^\/\/ \S/, `${file} opens with a comment saying what it does`);
    const lines = source.split('\n').length - (source.endsWith('\n') ? 1 : 0);
    assert.ok(lines <= MAX_LINES, `${file} has ${lines} lines (at most ${MAX_LINES})`);
  }
});

test('the module graph links as the browser links it (vm.SourceTextModule in a child node)', (t) => {
  // Linking reads every import and export and resolves each imported name; nothing is evaluated
  // (no DOM is needed). node puts SourceTextModule behind --experimental-vm-modules.
  const script = `
    const fs = require('node:fs');
    const path = require('node:path');
    const vm = require('node:vm');
    if (typeof vm.SourceTextModule !== 'function') { console.log('unavailable'); process.exit(0); }
    const www = ${JSON.stringify(WWW)};
    const context = vm.createContext({});
    const cache = new Map();
    const load = (file) => {
      if (!cache.has(file)) {
        const source = fs.readFileSync(path.join(www, file), 'utf8');
        cache.set(file, new vm.SourceTextModule(source, { identifier: file, context, initializeImportMeta(meta) { meta.url = 'file:///' + file; } }));
      }
      return cache.get(file);
    };
    const entry = load(process.argv[1]);
    entry.link((specifier, referrer) => load(path.posix.normalize(path.posix.join(path.posix.dirname(referrer.identifier), specifier))))
      .then(() => console.log('linked ' + cache.size + ' modules'), (e) => { console.error(e.name + ': ' + e.message); process.exit(1); });
  `;
  let out;
  try {
    out = execFileSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', '-e', script, entryPoint()], { stdio: 'pipe' }).toString().trim();
  } catch (e) {
    assert.fail(`the modules do not link: ${e.stderr ? e.stderr.toString().trim() : e.message}`);
  }
  if (out === 'unavailable') {
    t.skip('this node has no vm.SourceTextModule');
    return;
  }
  assert.match(out, /^linked \d+ modules$/);
  t.diagnostic(out);
});
