import assert from "node:assert/strict";
import { operatorRoles } from "../../../../ca/operators/roles.js";
import { mayWorkOn, rolesUsableOn, usableRoles } from "../../../../ca/operators/workstation-roles.js";

describe("ca/workstation-roles", () => {
  it("binds terminal-operator to counter terminals and every CA-side role to admin workstations, each role to exactly one kind", () => {
    assert.deepEqual(rolesUsableOn("terminal"), ["terminal-operator"]);
    assert.deepEqual([...rolesUsableOn("admin")].sort(), ["auditor", "ca-admin", "ca-operator", "security-officer"]);
    for (const role of operatorRoles) assert.equal([rolesUsableOn("terminal"), rolesUsableOn("admin")].filter((r) => r.includes(role)).length, 1, role);
  });

  it("keeps only the roles usable on the certificate's kind; none on feeds, relying parties or unknown kinds", () => {
    assert.deepEqual(usableRoles(["terminal-operator", "ca-operator"], "terminal"), ["terminal-operator"]);
    assert.deepEqual(usableRoles(["terminal-operator", "ca-operator"], "admin"), ["ca-operator"]);
    for (const kind of ["feed", "relying-party", "", "Terminal"]) assert.deepEqual(usableRoles([...operatorRoles], kind), [], kind);
    assert.equal(mayWorkOn(["security-officer"], "terminal"), false);
    assert.equal(mayWorkOn(["security-officer"], "admin"), true);
  });
});
