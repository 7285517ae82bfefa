'use strict';
// tests/gen/gen_canon.js: writes tests/data/canon.txt, random JSON documents with their
// RFC 8785 canonical form, for tests/test_canon.c. Run from the repository root:
//     node tests/gen/gen_canon.js
// Deterministic (fixed seed).
//
// Two lines per document: the input (one line: whitespace is space, tab or CR),
// then its canonical form computed here. JCS is JSON.stringify with the members
// of every object sorted by name as UTF-16 code units, which is what JavaScript's
// default string comparison does; numbers print as String(x).
const fs = require('fs');
const path = require('path');

let seed = 0x6a09e667;
function rnd32() {  // mulberry32
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
}
function rnd(n) { return rnd32() % n; }
function pick(a) { return a[rnd(a.length)]; }

// code points that stress escaping and UTF-16 ordering
const special = [0x0, 0x1, 0x8, 0x9, 0xa, 0xc, 0xd, 0x1f, 0x20, 0x22, 0x2f, 0x5c, 0x7f, 0x80, 0xf6,
    0x7ff, 0x800, 0x20ac, 0x2028, 0x2029, 0xd7ff, 0xe000, 0xfb33, 0xfeff, 0xfffd, 0xffff,
    0x10000, 0x1f600, 0x1f9d1, 0x10ffff];
function randCp() {
    switch (rnd(10)) {
    case 0: return pick(special);
    case 1: return 0x80 + rnd(0x780);                      // 2-byte UTF-8
    case 2: { const c = 0x800 + rnd(0xf800); return c >= 0xd800 && c < 0xe000 ? c + 0x800 : c; }
    case 3: return 0x10000 + rnd(0x100000);                // astral
    case 4: return 0xe000 + rnd(0x2000);                   // above the surrogates in UTF-16
    default: return 0x20 + rnd(0x5f);                      // printable ASCII
    }
}
function randStr(max) {
    let s = '';
    const n = rnd(max + 1);
    for (let i = 0; i < n; i++) s += String.fromCodePoint(randCp());
    return s;
}
const keyPool = ['', 'a', 'b', 'A', 'ab', 'a\u0000', 'aa', '1', '10', '2', '__proto__', 'constructor',
    '\u20ac', '\r', '\ufb33', '\ud83d\ude00', '\u0080', '\u00f6', '\uffff', '\ue000', '\u{10000}',
    'a\ud83d\ude00', 'a\uffff', 'a\ue000', 'model', 'messages', 'role', 'content', 'temperature',
    'max_tokens', 'tools', 'x\u2028y'];
function randKey() { return rnd(3) ? pick(keyPool) : randStr(6); }

// JSON text for a string, choosing an escape or the literal for each character
function hex4(c) {
    const h = c.toString(16).padStart(4, '0');
    return '\\u' + (rnd(2) ? h : h.toUpperCase());
}
function spellStr(s) {
    let o = '"';
    for (const ch of s) {
        const c = ch.codePointAt(0);
        const short = { 0x22: '\\"', 0x5c: '\\\\', 0x2f: '\\/', 0x8: '\\b', 0xc: '\\f', 0xa: '\\n', 0xd: '\\r', 0x9: '\\t' }[c];
        const must = c < 0x20 || c === 0x22 || c === 0x5c;
        const r = rnd(8);
        if (!must && r < 6) o += ch;
        else if (short && r < 7) o += short;
        else if (c >= 0x10000) { const v = c - 0x10000; o += hex4(0xd800 + (v >> 10)) + hex4(0xdc00 + (v & 0x3ff)); }
        else o += hex4(c);
    }
    return o + '"';
}
function digits(n) { let s = String(1 + rnd(9)); for (let i = 1; i < n; i++) s += rnd(10); return s; }
function spellNum() {
    switch (rnd(9)) {
    case 0: return String(rnd(1000));
    case 1: return '-' + rnd(100000);
    case 2: return pick(['0', '-0', '0.0', '-0.0', '0e5', '0.7', '4.50', '2e-3', '1E30', '1e21', '1e-7',
                         '1e20', '0.000001', '333333333.33333329', '0.000000000000000000000000001',
                         '9007199254740993', '1e-400', '123456789012345678901234567890', '0.1e1', '1E+2']);
    case 3: return digits(1 + rnd(17)) + 'e' + (rnd(60) - 30);
    case 4: return '0.' + '0'.repeat(rnd(9)) + digits(1 + rnd(16));
    case 5: { const d = digits(2 + rnd(25)); const k = 1 + rnd(d.length - 1); return d.slice(0, k) + '.' + d.slice(k); }
    case 6: return (rnd(2) ? '-' : '') + digits(1 + rnd(3)) + '.' + digits(1 + rnd(3)) + 'E' + pick(['', '+', '-']) + rnd(300);
    case 7: return String(rnd32() * 2 ** (rnd(60) - 30));
    default: return digits(1 + rnd(30)) + '.' + '0'.repeat(1 + rnd(3));
    }
}
function ws() {
    if (rnd(3)) return '';
    let o = '';
    for (let n = 1 + rnd(3); n > 0; n--) o += pick([' ', ' ', '\t', '\r']);
    return o;
}

// value: { t, v } -> returns [input, canonical]
function gen(depth, budget) {
    const r = depth === 0 ? 5 + rnd(3) : rnd(depth > 5 ? 5 : 8);
    if (r === 0) { const l = pick(['true', 'false', 'null']); return [l, l]; }
    if (r === 1 || r === 2) { const s = spellNum(); return [s, String(Number(s))]; }
    if (r === 3 || r === 4) { const s = randStr(rnd(5) ? 12 : 80); return [spellStr(s), JSON.stringify(s)]; }
    const n = rnd(Math.max(1, Math.min(8, budget.left)));
    budget.left -= n;
    if (r === 5) {
        const items = [];
        for (let i = 0; i < n; i++) items.push(gen(depth + 1, budget));
        return ['[' + ws() + items.map(x => x[0]).join(ws() + ',' + ws()) + ws() + ']',
                '[' + items.map(x => x[1]).join(',') + ']'];
    }
    const keys = new Set(), mems = [];
    for (let i = 0; i < n; i++) {
        const k = randKey();
        if (keys.has(k)) continue;
        keys.add(k);
        const [vi, vc] = gen(depth + 1, budget);
        mems.push({ k, ki: spellStr(k), vi, vc });
    }
    const sorted = mems.slice().sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    return ['{' + ws() + mems.map(m => m.ki + ws() + ':' + ws() + m.vi).join(ws() + ',' + ws()) + ws() + '}',
            '{' + sorted.map(m => JSON.stringify(m.k) + ':' + m.vc).join(',') + '}'];
}

// an independent check of the expected form: JSON.parse, then sort and stringify
function jcs(v) {
    if (Array.isArray(v)) return '[' + v.map(jcs).join(',') + ']';
    if (v !== null && typeof v === 'object')
        return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + jcs(v[k])).join(',') + '}';
    return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

const lines = [];
for (let i = 0; i < 400; i++) {
    const budget = { left: 4 + rnd(i % 10 === 0 ? 400 : 60) };
    let [input, canon] = gen(i % 8 === 7 ? 1 : 0, budget);  // mostly objects and arrays at the top
    if (i % 4 === 0) { input = '{"d":' + input + '}'; canon = '{"d":' + canon + '}'; }
    input = ws() + input + ws();
    if (jcs(JSON.parse(input)) !== canon) throw new Error('generator disagrees with JSON.parse: ' + input);
    if (/\n/.test(input) || /\n/.test(canon)) throw new Error('newline in a line');
    lines.push(input, canon);
}
const out = path.join(__dirname, '..', 'data', 'canon.txt');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, lines.join('\n') + '\n');
console.log(`${lines.length / 2} documents, ${fs.statSync(out).size} bytes -> ${out}`);
