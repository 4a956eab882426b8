import assert from "node:assert/strict";
import { sha256 } from "./sha256.ts";

const utf8 = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256() matches the NIST FIPS 180-4 example vectors", () => {
  assert.equal(
    hex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    hex(sha256(utf8.encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    hex(sha256(utf8.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(
    hex(sha256(utf8.encode("a".repeat(1_000_000)))),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

Deno.test("sha256() agrees with crypto.subtle.digest at every length around the block boundaries", async () => {
  for (let n = 0; n <= 200; n++) {
    const data = crypto.getRandomValues(new Uint8Array(n));
    const want = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    assert.equal(hex(sha256(data)), hex(want), `length ${n}`);
  }
});

Deno.test("sha256() reads only the view it is given (subarray of a larger buffer)", () => {
  const big = utf8.encode("xxabcxx");
  assert.equal(hex(sha256(big.subarray(2, 5))), hex(sha256(utf8.encode("abc"))));
});
