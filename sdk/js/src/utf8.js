// UTF-8 encoding and decoding: `TextEncoder`/`TextDecoder` where the engine
// has them (Node), a small implementation where it does not (QuickJS).

function encodeFallback(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/** As the WHATWG decoder: each maximal invalid subpart becomes one U+FFFD. */
function decodeFallback(bytes) {
  const parts = [];
  let codes = [];
  const emit = (c) => {
    if (c >= 0x10000) {
      c -= 0x10000;
      codes.push(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
    } else codes.push(c);
    if (codes.length >= 8192) {
      parts.push(String.fromCharCode.apply(null, codes));
      codes = [];
    }
  };
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (needed === 0) {
      if (b <= 0x7f) emit(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        needed = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        cp = b & 0xf;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        cp = b & 7;
      } else emit(0xfffd);
      continue;
    }
    if (b < lower || b > upper) {
      needed = seen = cp = 0;
      lower = 0x80;
      upper = 0xbf;
      emit(0xfffd);
      i--; // this byte starts over
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen === needed) {
      emit(cp);
      needed = seen = cp = 0;
    }
  }
  if (needed > 0) emit(0xfffd);
  parts.push(String.fromCharCode.apply(null, codes));
  return parts.join("");
}

const Encoder = globalThis.TextEncoder;
const Decoder = globalThis.TextDecoder;
const encoder = Encoder ? new Encoder() : null;
const decoder = Decoder ? new Decoder() : null;

/** `text` as UTF-8 bytes. */
export function encode(text) {
  return encoder ? encoder.encode(text) : encodeFallback(String(text));
}

/** UTF-8 `bytes` as text, invalid sequences replaced by U+FFFD. */
export function decode(bytes) {
  return decoder ? decoder.decode(bytes) : decodeFallback(bytes);
}

export const fallback = { encode: encodeFallback, decode: decodeFallback };
