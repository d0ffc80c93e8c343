import assert from "node:assert/strict";
import { createAliasFormatter, defaultAliasTemplate } from "../../../../ca/residents/alias-format.js";
import { CaError } from "../../../../ca/errors.js";
import { codePointLength } from "../../../../ca/residents/full-width.js";

describe("alias-format", () => {
  const cases: {
    what: string;
    template?: string;
    input: { name: string; nameSubstituteFlags: string; alias: string | null; aliasSubstituteFlags?: string | null };
    name: string;
    flags: string;
  }[] = [
    {
      what: "no alias: name and flags unchanged",
      input: { name: "山田　太郎", nameSubstituteFlags: "01000", alias: null },
      name: "山田　太郎",
      flags: "01000",
    },
    {
      what: "empty alias: unchanged, no empty brackets",
      input: { name: "山田　太郎", nameSubstituteFlags: "00000", alias: "" },
      name: "山田　太郎",
      flags: "00000",
    },
    {
      what: "default template, alias without flags → zeros",
      input: { name: "ＫＩＭ　ＭＩＮ", nameSubstituteFlags: "0000000", alias: "金　敏" },
      name: "ＫＩＭ　ＭＩＮ（金　敏）",
      flags: "0000000" + "0" + "000" + "0",
    },
    {
      what: "default template keeps the name's and the alias's own flags",
      input: { name: "𠮷田　花子", nameSubstituteFlags: "10000", alias: "髙橋", aliasSubstituteFlags: "10" },
      name: "𠮷田　花子（髙橋）",
      flags: "10000" + "0" + "10" + "0",
    },
    {
      what: "custom template: alias first, inserted characters flagged 0",
      template: "{alias}　［{name}］",
      input: { name: "ＬＥＥ　ＡＮＮ", nameSubstituteFlags: "0010000", alias: "李", aliasSubstituteFlags: "1" },
      name: "李　［ＬＥＥ　ＡＮＮ］",
      flags: "1" + "00" + "0010000" + "0",
    },
    {
      what: "template with nothing around the placeholders",
      template: "{name}{alias}",
      input: { name: "山田　太郎", nameSubstituteFlags: "00001", alias: "ヤマ", aliasSubstituteFlags: "01" },
      name: "山田　太郎ヤマ",
      flags: "0000101",
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const out = createAliasFormatter(c.template).render(c.input);
      assert.equal(out.name, c.name);
      assert.equal(out.nameSubstituteFlags, c.flags);
      assert.equal(out.nameSubstituteFlags.length, codePointLength(out.name));
    });
  }

  it("defaults to name（alias）", () => assert.equal(createAliasFormatter().template, defaultAliasTemplate));

  const badTemplates = ["{name}", "{alias}", "{name}{name}{alias}", "{name}({alias})", "{name}（{alias}）{x}", "{name} {alias}", ""];
  for (const t of badTemplates) {
    it(`refuses the template ${JSON.stringify(t)}`, () =>
      assert.throws(() => createAliasFormatter(t, "profile.aliasTemplate"), (e: unknown) => e instanceof CaError && e.field === "profile.aliasTemplate"));
  }

  it("refuses flags that do not match", () => {
    const f = createAliasFormatter();
    assert.throws(() => f.render({ name: "山田　太郎", nameSubstituteFlags: "0000", alias: "ヤ" }), (e: unknown) => e instanceof CaError && e.field === "resident.nameSubstituteFlags");
    assert.throws(
      () => f.render({ name: "山田　太郎", nameSubstituteFlags: "00000", alias: "ヤマ", aliasSubstituteFlags: "0" }),
      (e: unknown) => e instanceof CaError && e.field === "resident.aliasSubstituteFlags",
    );
  });
});
