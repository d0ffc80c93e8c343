import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CaError } from "../../../../ca/errors.js";
import { assertPasswordAcceptable, checkPassword, defaultPasswordPolicy, generatePassword, passwordPolicy, type PasswordRule } from "../../../../ca/operators/password-policy.js";
import type { Random } from "../../../../ca/ports.js";

const ctx = { operatorId: "yamada01" };
const ruleOf = (pw: string, policy = defaultPasswordPolicy, operatorId = ctx.operatorId): PasswordRule | "ok" => {
  const r = checkPassword(pw, { operatorId }, policy);
  return r.ok ? "ok" : r.rule;
};

describe("ca/password-policy", () => {
  const table: Array<[string, PasswordRule | "ok"]> = [
    ["Kq7#mZp2xW9v", "ok"],
    ["Kq7#mZp2xW9", "too-short"], // 11
    ["x".repeat(3) + "Kq7#mZp2xW9v".repeat(22), "too-long"], // 267
    ["yamada01", "too-short"],
    ["my-YAMADA01-pass!", "contains-operator-id"],
    ["Kq7#aaaa2xW9v", "repeated-characters"],
    ["Kq7#AbAb2xW9v", "ok"], // alternating, no run
    ["Kq7#AaAa2xW9v", "repeated-characters"], // case-insensitive: aaaa
    ["Kq7#aaa2xW9vbbb", "ok"], // runs of 3 are fine
    ["Kq7#abcd2xW9v", "sequential-characters"],
    ["Kq7#DCBA2xW9v", "sequential-characters"],
    ["Kq7#m1234xW9v", "sequential-characters"],
    ["Kq7#m4321xW9v", "sequential-characters"],
    ["Kq7#abc2xW9vxyz", "ok"], // runs of 3 are fine
    ["Kq7#abcbaxW9v", "ok"], // up then down is not a run of 4
    ["Kq7#9a0bxW9v8c", "ok"], // 9→a is not consecutive across classes
    ["passwordpassword", "common-password"],
    ["Administrator", "common-password"],
    ["Doraemon2026!!", "common-password"], // common core with digits and symbols around
    ["!!Sakura202620", "common-password"],
    ["ｋｑ７＃ｍｚｐ２ｘｗ９ｖ", "ok"], // full-width: NFKC → kq7#mzp2xw9v
    ["ａｂｃｄｅｆｇｈｉｊｋｌ", "sequential-characters"], // full-width abcd… after NFKC
  ];
  for (const [pw, expected] of table) {
    it(`${JSON.stringify(pw.length > 30 ? pw.slice(0, 12) + "…" : pw)} → ${expected}`, () => {
      assert.equal(ruleOf(pw), expected);
    });
  }

  it("refuses the id only as a whole word when the id is very short", () => {
    assert.equal(ruleOf("ab", defaultPasswordPolicy, "ab"), "too-short");
    assert.equal(ruleOf("Kq7#abZp2xW9v", passwordPolicy(), "ab"), "ok");
    assert.equal(ruleOf("Kq7#mZp2xW9v", passwordPolicy({ minLength: 8 }), "kq7#mzp2xw9v"), "contains-operator-id");
  });

  it("is data-driven: limits and word list come from the policy", () => {
    const p = passwordPolicy({ minLength: 8, maxRun: 3, commonPasswords: new Set(["kq7#mzp2"]) });
    assert.equal(ruleOf("Kq7#mZp2", p), "common-password");
    assert.equal(ruleOf("Kq7#mmmZ", p), "repeated-characters");
    assert.equal(ruleOf("Kq7#mZp3", p), "ok");
  });

  it("never allows a minimum below 8, nor nonsense limits", () => {
    assert.throws(() => passwordPolicy({ minLength: 7 }), (e: unknown) => e instanceof CaError && e.field === "minLength");
    assert.throws(() => passwordPolicy({ maxLength: 10 }), (e: unknown) => e instanceof CaError && e.field === "maxLength");
    assert.equal(passwordPolicy({ minLength: 8 }).minLength, 8);
    assert.equal(defaultPasswordPolicy.minLength, 12);
    assert.equal(defaultPasswordPolicy.maxLength, 256);
    assert.ok(defaultPasswordPolicy.commonPasswords.size >= 300);
  });

  it("names the rule without echoing the password", () => {
    const secret = "abcdEFGH1234";
    assert.throws(
      () => assertPasswordAcceptable(secret, ctx),
      (e: unknown) => e instanceof CaError && e.kind === "unprocessable" && e.field === "newPassword" && /sequential-characters/.test(e.message) && !e.message.includes(secret),
    );
  });

  it("generates random passwords that pass the policy, from every class", () => {
    const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
    for (let i = 0; i < 200; i++) {
      const pw = generatePassword(random, "yamada01");
      assert.equal(pw.length, 16);
      assert.equal(checkPassword(pw, ctx).ok, true, "generated password fails the policy");
      assert.match(pw, /[a-z]/);
      assert.match(pw, /[A-Z]/);
      assert.match(pw, /[2-9]/);
      assert.match(pw, /[-_.!#%+=]/);
    }
  });
});
