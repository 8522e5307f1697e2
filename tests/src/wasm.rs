//! Hand-assembled WebAssembly for tests: LEB128 numbers, sections, a
//! component that is slow to compile and a component padded to a size.

/// Writes `n` as unsigned LEB128.
pub fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub fn section(id: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb128(content.len(), out);
    out.extend_from_slice(content);
}

/// A component whose one core module has a single function of `groups`
/// loops `l[c] = l[a] * l[b]` over 1000 `i64` locals, returning their sum:
/// about 20 bytes per loop to write, and a loop header merging every local
/// to compile (SSA block parameters and register allocation for each).
pub fn compile_bomb(groups: usize) -> Vec<u8> {
    const LOCALS: usize = 1000;
    let mut body = Vec::new();
    body.push(1); // one group of locals
    leb128(LOCALS, &mut body);
    body.push(0x7e); // i64
    let mut x: usize = 12345;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % LOCALS
    };
    for _ in 0..groups {
        body.extend([0x03, 0x40]); // loop
        for op in [0x20, 0x20] {
            body.push(op); // local.get
            leb128(next(), &mut body);
        }
        body.push(0x7e); // i64.mul
        body.push(0x21); // local.set
        leb128(next(), &mut body);
        body.push(0x20); // local.get
        leb128(next(), &mut body);
        body.extend([0xa7, 0x0d, 0]); // i32.wrap_i64, br_if 0 (the loop)
        body.push(0x0b); // end
    }
    // The result depends on every local, so no statement is dead.
    body.extend([0x42, 0]); // i64.const 0
    for local in 0..LOCALS {
        body.push(0x20);
        leb128(local, &mut body);
        body.push(0x7c); // i64.add
    }
    body.push(0x0b); // end
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 1, 0x7e], &mut module); // type () -> i64
    section(3, &[1, 0], &mut module); // one function of type 0
    let mut code = vec![1];
    leb128(body.len(), &mut code);
    code.extend_from_slice(&body);
    section(10, &code, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut component); // the core module
    section(2, &[1, 0, 0, 0], &mut component); // one instance of it
    component
}

/// Appends a component-level custom section of `size` bytes: the file
/// stays a valid component, only larger.
pub fn padded(wasm: &[u8], size: usize) -> Vec<u8> {
    let name = b"padding";
    let mut content = Vec::new();
    leb128(name.len(), &mut content);
    content.extend_from_slice(name);
    content.resize(content.len() + size, 0);
    let mut out = wasm.to_vec();
    section(0, &content, &mut out);
    out
}
