'use strict';
// tests/gen/gen_numbers.js: writes tests/data/numbers.txt, the double <-> text vectors
// that tests/test_canon.c checks. Run from the repository root:
//     node tests/gen/gen_numbers.js
// Deterministic (fixed seed): the same node gives the same file.
//
// One line per double: 16 hex digits of its bit pattern, a space, String(x)
// (ECMAScript Number::toString, which RFC 8785 uses for numbers), then optional
// more spellings that must parse to the same bits: x.toPrecision(17), the
// spelling that produced x, the exact decimal value of x, and numbers just
// inside (or exactly on, when x's significand is even) the halfway points to
// its neighbours.
const fs = require('fs');
const path = require('path');

let seed = 0x2545f491;
function rnd32() {  // mulberry32
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
}
function rnd(n) { return rnd32() % n; }
function rnd64() { return (BigInt(rnd32()) << 32n) | BigInt(rnd32()); }

const dv = new DataView(new ArrayBuffer(8));
function fromBits(b) { dv.setBigUint64(0, BigInt.asUintN(64, b)); return dv.getFloat64(0); }
function toBits(x) { dv.setFloat64(0, x); return dv.getBigUint64(0); }
function next(x) { return fromBits(toBits(x) + 1n); }   // for x > 0
function prev(x) { return fromBits(toBits(x) - 1n); }   // for x > 0

// x = m * 2^e exactly (x > 0 finite)
function decompose(x) {
    const b = toBits(x), be = Number((b >> 52n) & 0x7ffn), f = b & ((1n << 52n) - 1n);
    return be ? { m: f | (1n << 52n), e: be - 1075, f, be } : { m: f, e: -1074, f, be };
}
// n * 2^p as a JSON number spelling "D" or "De-N", exactly
function exact(n, p) {
    if (p >= 0) return (n << BigInt(p)).toString();
    return (n * 5n ** BigInt(-p)).toString() + 'e-' + (-p);
}
// exactly n * 2^p moved by a tiny amount (dir = +1 or -1) that keeps it strictly
// between the same two doubles
function nudged(n, p, dir) {
    let d, e;
    if (p >= 0) { d = n << BigInt(p); e = 0; } else { d = n * 5n ** BigInt(-p); e = p; }
    return (d * 1000n + BigInt(dir)).toString() + 'e' + (e - 3);
}

const seen = new Set();
const lines = [];
let count = 0;
function add(x, extra) {
    if (!Number.isFinite(x)) return;
    const b = toBits(x), hex = b.toString(16).padStart(16, '0');
    if (seen.has(hex)) return;
    seen.add(hex);
    const alts = [];
    if (extra) alts.push(extra);
    count++;
    const a = Math.abs(x), sign = x < 0 ? '-' : '';
    if (count % 10 === 0) alts.push(x.toPrecision(17));
    if (a !== 0 && count % 149 === 3) {
        const { m, e } = decompose(a);
        alts.push(sign + exact(m, e));
    }
    if (a !== 0 && count % 149 === 77) {
        const { m, e, f, be } = decompose(a);
        if (a !== Number.MAX_VALUE) {
            alts.push(sign + nudged(2n * m + 1n, e - 1, -1));
            if (m % 2n === 0n) alts.push(sign + exact(2n * m + 1n, e - 1));
        }
        const asym = f === 0n && be > 1;
        const lo = asym ? [4n * m - 1n, e - 2] : [2n * m - 1n, e - 1];
        alts.push(sign + nudged(lo[0], lo[1], +1));
        if (m % 2n === 0n) alts.push(sign + exact(lo[0], lo[1]));
    }
    lines.push(hex + ' ' + String(x) + (alts.length ? ' ' + alts.join(' ') : ''));
}
function neg(x) { return rnd(2) ? -x : x; }

// the RFC 8785 Appendix B table and other fixed cases
['0000000000000000', '8000000000000000', '0000000000000001', '8000000000000001',
 '7fefffffffffffff', 'ffefffffffffffff', '4340000000000000', 'c340000000000000',
 '4430000000000000', '44b52d02c7e14af5', '44b52d02c7e14af6', '44b52d02c7e14af7',
 '444b1ae4d6e2ef4e', '444b1ae4d6e2ef4f', '444b1ae4d6e2ef50', '3eb0c6f7a0b5ed8c',
 '3eb0c6f7a0b5ed8d', '41b3de4355555553', '41b3de4355555554', '41b3de4355555555',
 '41b3de4355555556', '41b3de4355555557', 'becbf647612f3696', '43143ff3c1cb0959',
 '000fffffffffffff', '0010000000000000', '0010000000000001', '3ff0000000000000',
 '3fefffffffffffff', '3ff0000000000001'].forEach(h => add(fromBits(BigInt('0x' + h))));
[0.1, 0.2, 0.3, 0.7, 1 / 3, 2 / 3, 0.1 + 0.2, 1e21, 1e-7, 1e-6, 123e-20, 2 ** 53 + 2, 2 ** 53 - 1,
 2 ** 54, 1e22, 1e23, 5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 4.35, 0.5, 1.5,
 1e15, 1e16, 1e17, 123456789012345680000, 1.7976931348623157e308].forEach(x => { add(x); add(-x); });

// around the switch points of the decimal / exponent notation
for (const t of [1e21, 1e-7, 1e-6, 1e-5, 1e20, 2 ** 53]) {
    let x = t, y = t;
    for (let i = 0; i < 20; i++) { add(x); add(y); x = next(x); y = prev(y); }
}
// every power of two, and its neighbours for some
for (let e = -1074; e <= 1023; e++) {
    const x = 2 ** e;
    add(x);
    if (e % 3 === 0) add(prev(x));
    if (e % 7 === 0) add(next(x));
}
// every power of ten, and its neighbours
for (let e = -323; e <= 308; e++) {
    const x = Number('1e' + e);
    add(x); add(next(x)); if (x > 5e-324) add(prev(x));
}
// random bit patterns over all exponents
for (let i = 0; i < 5500; i++) add(fromBits(rnd64()));
// random doubles in the range people write (1e-9 .. 1e25)
for (let i = 0; i < 1500; i++) {
    const be = 1023 - 30 + rnd(114);
    add(neg(fromBits((BigInt(be) << 52n) | (rnd64() & ((1n << 52n) - 1n)))));
}
// random subnormals
for (let i = 0; i < 600; i++) add(neg(fromBits(rnd64() & ((1n << 52n) - 1n))));
// short decimals as people write them; the spelling is kept as an alternative
function digits(n) { let s = String(1 + rnd(9)); for (let i = 1; i < n; i++) s += rnd(10); return s; }
for (let i = 0; i < 4000; i++) {
    const nd = 1 + rnd(rnd(4) ? 8 : 17), d = digits(nd);
    const ex = rnd(5) ? rnd(40) - 20 : rnd(640) - 330;
    let s;
    switch (rnd(4)) {
    case 0: s = d + 'e' + ex; break;
    case 1: s = d[0] + (nd > 1 ? '.' + d.slice(1) : '') + 'E' + (ex >= 0 ? '+' : '') + ex; break;
    case 2: { const k = rnd(nd + 1); s = (k ? d.slice(0, k) : '0') + (k < nd ? '.' + d.slice(k) : ''); break; }
    default: s = '0.' + '0'.repeat(rnd(12)) + d + '0'.repeat(rnd(3));
    }
    if (rnd(3) === 0) s = '-' + s;
    add(Number(s), s);
}
// 15- and 16-digit decimals (the edge of the fast path)
for (let i = 0; i < 1500; i++) {
    const s = digits(15 + rnd(2)) + 'e' + (rnd(60) - 30);
    add(Number(s), s);
}
// integers
for (let i = 0; i < 1500; i++) {
    const bits = 1 + rnd(75);
    let n = 0n;
    for (let j = 0; j < bits; j += 30) n = (n << 30n) | BigInt(rnd32() & 0x3fffffff);
    n &= (1n << BigInt(bits)) - 1n;
    const sg = rnd(2) ? '-' : '';
    add(Number(sg + n), sg + n.toString());
}

const out = path.join(__dirname, '..', 'data', 'numbers.txt');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, lines.join('\n') + '\n');
console.log(`${lines.length} numbers, ${fs.statSync(out).size} bytes -> ${out}`);
