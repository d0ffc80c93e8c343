import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import { assertSeparationOfDuties, isMachineRole, isOperatorRole, machineRoles, operatorRoles, parseOperatorRoles } from "../../../../ca/operators/roles.js";

describe("ca/roles", () => {
  it("lists the operator and machine roles of docs/api.md §7", () => {
    assert.deepEqual([...operatorRoles], ["terminal-operator", "ca-operator", "security-officer", "auditor", "ca-admin"]);
    assert.deepEqual([...machineRoles], ["terminal", "admin", "feed", "relying-party", "holder-portal"]);
    assert.equal(isOperatorRole("auditor"), true);
    assert.equal(isOperatorRole("feed"), false);
    assert.equal(isMachineRole("feed"), true);
  });

  it("parses, de-duplicates and orders roles", () => {
    assert.deepEqual(parseOperatorRoles(["auditor", "terminal-operator", "auditor"]), ["terminal-operator", "auditor"]);
  });

  it("refuses an empty list and unknown roles with invalid-input on field roles", () => {
    for (const bad of [[], ["root"], ["auditor", "feed"]]) {
      assert.throws(() => parseOperatorRoles(bad), (e: unknown) => e instanceof CaError && e.kind === "invalid-input" && e.field === "roles");
    }
  });

  it("separation of duties: security-officer and ca-admin never together (unprocessable)", () => {
    assert.throws(() => parseOperatorRoles(["security-officer", "ca-admin"]), (e: unknown) => e instanceof CaError && e.kind === "unprocessable" && e.field === "roles");
    assert.throws(() => assertSeparationOfDuties(["ca-admin", "auditor", "security-officer"]), CaError);
    assert.deepEqual(parseOperatorRoles(["security-officer", "auditor"]), ["security-officer", "auditor"]);
    assert.deepEqual(parseOperatorRoles(["ca-admin", "ca-operator"]), ["ca-operator", "ca-admin"]);
  });
});
