import { CaError } from "../errors.js";
import { codePointLength, isFullWidthText } from "./full-width.js";

/**
 * Renders a foreign resident's alias (通称) into the name otherName 1.2.392.200149.8.5.5.1.
 * No OID exists for the alias (docs/domain.md §2 [C: none found]) and the real concatenation format is not
 * public, so the format is a configurable template [U]; never invent an OID for it.
 *
 * Substitute-flag rule (docs/domain.md §2: one flag per character of the name string):
 * - the characters the template inserts (e.g. the full-width parentheses of the default) are the
 *   CA's own JIS X 0208 characters, so each gets flag `0`;
 * - `{name}` contributes the name's own flags, unchanged;
 * - `{alias}` contributes the alias's own flags when given, else one `0` per alias character.
 * So the rendered flags always have exactly one digit per code point of the rendered name.
 * Without an alias (null or empty) the name and its flags are returned unchanged: no empty brackets.
 */

/** Default: name, then the alias in full-width parentheses: `山田　太郎（ヤマダ　タロウ）`. */
export const defaultAliasTemplate = "{name}（{alias}）";

export interface NameAndAlias {
  readonly name: string;
  readonly nameSubstituteFlags: string;
  readonly alias: string | null;
  /** One `0`/`1` per code point of `alias`; null/absent means all `0`. */
  readonly aliasSubstituteFlags?: string | null;
}

export interface RenderedName {
  /** The string that goes into otherName 5.5.1. */
  readonly name: string;
  /** The matching otherName 5.5.2 flags. */
  readonly nameSubstituteFlags: string;
}

export interface AliasFormatter {
  readonly template: string;
  render(input: NameAndAlias): RenderedName;
}

type Segment = { kind: "literal"; text: string } | { kind: "name" } | { kind: "alias" };

function parseTemplate(template: string, field: string): Segment[] {
  const bad = (rule: string): CaError => new CaError("invalid-input", `${field} ${rule}`, { field });
  const segments: Segment[] = [];
  let names = 0;
  let aliases = 0;
  for (const part of template.split(/(\{name\}|\{alias\})/)) {
    if (part === "{name}") {
      names++;
      segments.push({ kind: "name" });
    } else if (part === "{alias}") {
      aliases++;
      segments.push({ kind: "alias" });
    } else if (part !== "") {
      if (/[{}]/.test(part)) throw bad("may use only the placeholders {name} and {alias}");
      if (!isFullWidthText(part)) throw bad("must use full-width characters around the placeholders");
      segments.push({ kind: "literal", text: part });
    }
  }
  if (names !== 1 || aliases !== 1) throw bad("must contain {name} and {alias} exactly once each");
  return segments;
}

/**
 * Builds a formatter from a template with `{name}` and `{alias}` exactly once each and full-width
 * literal text. A bad template throws CaError("invalid-input", field) — configuration is checked
 * once at start-up (docs/design.md invariant 8); `field` names the configuration key.
 */
export function createAliasFormatter(template: string = defaultAliasTemplate, field = "profile.aliasTemplate"): AliasFormatter {
  const segments = parseTemplate(template, field);
  return Object.freeze({
    template,
    render(input: NameAndAlias): RenderedName {
      if (codePointLength(input.name) !== input.nameSubstituteFlags.length) {
        throw new CaError("invalid-input", "resident.nameSubstituteFlags must have exactly one digit per character of resident.name", {
          field: "resident.nameSubstituteFlags",
        });
      }
      const alias = input.alias ?? "";
      if (alias === "") return { name: input.name, nameSubstituteFlags: input.nameSubstituteFlags };
      const aliasFlags = input.aliasSubstituteFlags ?? "0".repeat(codePointLength(alias));
      if (aliasFlags.length !== codePointLength(alias)) {
        throw new CaError("invalid-input", "resident.aliasSubstituteFlags must have exactly one digit per character of resident.alias", {
          field: "resident.aliasSubstituteFlags",
        });
      }
      let name = "";
      let flags = "";
      for (const s of segments) {
        if (s.kind === "literal") {
          name += s.text;
          flags += "0".repeat(codePointLength(s.text));
        } else if (s.kind === "name") {
          name += input.name;
          flags += input.nameSubstituteFlags;
        } else {
          name += alias;
          flags += aliasFlags;
        }
      }
      return { name, nameSubstituteFlags: flags };
    },
  });
}
