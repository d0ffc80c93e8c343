import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { cardCsrPool } from "../../../bench/card-csr-pool.js";
import { parseCsr } from "../../../ca/issuance/csr.js";

const dir = join(process.cwd(), "var", "test", "card-csr-pool");

describe("bench card CSR pool", function () {
  this.timeout(60_000);
  before(() => rmSync(dir, { recursive: true, force: true }));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("gives CSRs the CA accepts, each for another RSA-2048 key, and extends its cache without changing what it had", () => {
    const first = cardCsrPool(12, () => undefined, dir);
    assert.equal(first.length, 12);
    const more = cardCsrPool(40, () => undefined, dir);
    assert.equal(more.length, 40);
    assert.deepEqual(more.slice(0, 12), first, "a bigger pool keeps the CSRs already handed out, in order");
    const keys = new Set<string>();
    for (const csr of more) {
      const parsed = parseCsr(csr, "requests[0].csr"); // verifies the proof of possession too
      assert.deepEqual(parsed.key, { type: "rsa", bits: 2048, exponent: 65537 });
      keys.add(parsed.publicKeySha256);
    }
    assert.equal(keys.size, 40, "no two CSRs share a key (the CA refuses key reuse)");
  });
});
