// Test data shared by the e2e tests.

/** `n` bytes that look random (xorshift32, fixed seed): the same on every run. */
export function noise(n) {
  const out = Buffer.alloc(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
