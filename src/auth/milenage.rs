//! Milenage (3GPP TS 35.206): the AKA functions f1, f1*, f2, f3, f4, f5, f5*
//! over AES-128.

use super::Key;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use core::fmt;

/// Milenage keyed with K and OPc. `Debug` is redacted.
///
/// With the Milenage constants c1..c5 and rotations r1..r5 of TS 35.206 §4.1:
/// `TEMP = E_K(RAND ⊕ OPc)`, `OUTi = E_K(rot(x ⊕ OPc, ri) ⊕ ci) ⊕ OPc`.
#[derive(Clone)]
pub struct Milenage {
    aes: Aes128,
    opc: [u8; 16],
}

/// f2..f5 of one RAND: RES, CK, IK, AK. `Debug` is redacted.
#[derive(Clone)]
pub struct MilenageOutput {
    /// f2: RES (8 bytes).
    pub res: [u8; 8],
    /// f3: cipher key CK.
    pub ck: [u8; 16],
    /// f4: integrity key IK.
    pub ik: [u8; 16],
    /// f5: anonymity key AK (6 bytes).
    pub ak: [u8; 6],
}

impl fmt::Debug for Milenage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Milenage(<redacted>)")
    }
}

impl fmt::Debug for MilenageOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MilenageOutput(<redacted>)")
    }
}

fn xor<const N: usize>(a: &[u8; N], b: &[u8; N]) -> [u8; N] {
    core::array::from_fn(|i| a[i] ^ b[i])
}

/// The first `N` bytes of a block; callers use `N` = 6 or 8 only.
fn head<const N: usize>(b: &[u8; 16]) -> [u8; N] {
    core::array::from_fn(|i| b[i])
}

fn tail8(b: &[u8; 16]) -> [u8; 8] {
    core::array::from_fn(|i| b[8 + i])
}

impl Milenage {
    /// From K and OP (OPc = OP ⊕ E_K(OP) is derived here).
    pub fn with_op(k: &Key, op: &Key) -> Self {
        let aes = Aes128::new(&Array::from(*k.expose()));
        let opc = xor(&encrypt(&aes, op.expose()), op.expose());
        Milenage { aes, opc }
    }

    /// From K and OPc.
    pub fn with_opc(k: &Key, opc: &Key) -> Self {
        Milenage {
            aes: Aes128::new(&Array::from(*k.expose())),
            opc: *opc.expose(),
        }
    }

    /// OPc, to store instead of OP.
    pub fn opc(&self) -> Key {
        Key::new(self.opc)
    }

    fn e(&self, block: &[u8; 16]) -> [u8; 16] {
        encrypt(&self.aes, block)
    }

    fn temp(&self, rand: &[u8; 16]) -> [u8; 16] {
        self.e(&xor(rand, &self.opc))
    }

    /// `OUT = E_K(rot(x ⊕ OPc, 8·r bits) ⊕ c ⊕ extra) ⊕ OPc`; `c` is the last byte
    /// of ci (r1..r5 = 64, 0, 32, 64, 96 bits; c1..c5 = 0, 1, 2, 4, 8).
    fn out(&self, x: &[u8; 16], r: usize, c: u8, extra: &[u8; 16]) -> [u8; 16] {
        let v = xor(x, &self.opc);
        let mut b: [u8; 16] = core::array::from_fn(|i| v[(i + r) % 16] ^ extra[i]);
        b[15] ^= c;
        xor(&self.e(&b), &self.opc)
    }

    fn out1(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> [u8; 16] {
        let mut in1 = [0u8; 16];
        for half in in1.chunks_exact_mut(8) {
            half[..6].copy_from_slice(sqn);
            half[6..].copy_from_slice(amf);
        }
        self.out(&in1, 8, 0, &self.temp(rand))
    }

    /// f1: the network authentication code MAC-A.
    pub fn f1(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> [u8; 8] {
        head(&self.out1(rand, sqn, amf))
    }

    /// f1*: the resynchronisation authentication code MAC-S.
    pub fn f1_star(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> [u8; 8] {
        tail8(&self.out1(rand, sqn, amf))
    }

    /// f2 (RES), f3 (CK), f4 (IK) and f5 (AK) of `rand`.
    pub fn f2345(&self, rand: &[u8; 16]) -> MilenageOutput {
        let t = self.temp(rand);
        let z = [0u8; 16];
        let out2 = self.out(&t, 0, 1, &z);
        MilenageOutput {
            res: tail8(&out2),
            ck: self.out(&t, 4, 2, &z),
            ik: self.out(&t, 8, 4, &z),
            ak: head(&out2),
        }
    }

    /// f5*: the anonymity key AK used in AUTS.
    pub fn f5_star(&self, rand: &[u8; 16]) -> [u8; 6] {
        head(&self.out(&self.temp(rand), 12, 8, &[0; 16]))
    }
}

fn encrypt(aes: &Aes128, block: &[u8; 16]) -> [u8; 16] {
    let mut b = Array::from(*block);
    aes.encrypt_block(&mut b);
    b.into()
}
