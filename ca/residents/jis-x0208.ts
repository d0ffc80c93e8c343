/**
 * The character repertoire of JIS X 0208 (the 6,879 characters of rows 1–8 and 16–84), as Unicode
 * code points. docs/domain.md §2: the name, alias and address otherNames hold JIS X 0208 characters only; a
 * character outside it is replaced upstream by a substitute character (代替文字) and marked with
 * flag `1`. So a character with flag `0` must be in this set.
 *
 * Built once, lazily, from Node's built-in WHATWG `euc-jp` decoder over the two-byte range
 * 0xA1A1–0xFEFE (EUC-JP code set 1 = JIS X 0208 rows 1–94), without the rows the WHATWG index adds
 * beyond the standard:
 * - row 13: NEC special characters (①, Ⅰ, ㍉, ∮ …), a Windows-31J extension;
 * - rows 89–92: NEC-selected IBM extensions (髙, 﨑, 德 …), also Windows-31J only.
 * Rows 9–15 and 85–94 are otherwise unassigned in JIS X 0208:1997.
 *
 * The WHATWG index maps six row-1/row-2 characters the Microsoft way (e.g. 0x2141 → U+FF5E FULLWIDTH
 * TILDE). JIS X 0208's own mapping (Unicode's JIS0208.TXT) gives other code points for the same
 * characters; a terminal may send either, so both are accepted: U+301C WAVE DASH, U+2016 DOUBLE
 * VERTICAL LINE, U+2212 MINUS SIGN, U+2014 EM DASH. (The other JIS0208.TXT forms, ¢ £ ¬ \, are
 * half-width and refused before this check: ca/residents/full-width.ts.)
 */

/** Rows of the 94×94 table that JIS X 0208:1997 assigns. */
const STANDARD_ROWS: readonly (readonly [number, number])[] = [
  [1, 8],
  [16, 84],
];

/** JIS0208.TXT code points for characters the WHATWG index maps to Microsoft's (see above). */
const JIS_MAPPING_ALTERNATES = ["\u301C", "\u2016", "\u2212", "\u2014"];

let repertoire: ReadonlySet<number> | undefined;

function build(): ReadonlySet<number> {
  const decoder = new TextDecoder("euc-jp", { fatal: true });
  const set = new Set<number>();
  const pair = new Uint8Array(2);
  for (const [first, last] of STANDARD_ROWS) {
    for (let row = first; row <= last; row++) {
      for (let cell = 1; cell <= 94; cell++) {
        pair[0] = 0xa0 + row;
        pair[1] = 0xa0 + cell;
        let text: string;
        try {
          text = decoder.decode(pair);
        } catch {
          continue; // an unassigned cell (e.g. row 2 gaps, row 47 after 0x4F53)
        }
        const cp = text.codePointAt(0);
        if (cp !== undefined && cp !== 0xfffd && text.length === 1) set.add(cp);
      }
    }
  }
  for (const alt of JIS_MAPPING_ALTERNATES) set.add(alt.codePointAt(0)!);
  return set;
}

/** The JIS X 0208 repertoire as code points (computed on first use, then shared; read-only). */
export function jisX0208Repertoire(): ReadonlySet<number> {
  repertoire ??= build();
  return repertoire;
}

/** True when the single character `char` (one code point) is in JIS X 0208. */
export function isJisX0208Character(char: string): boolean {
  const cp = char.codePointAt(0);
  return cp !== undefined && [...char].length === 1 && jisX0208Repertoire().has(cp);
}

/**
 * The 0-based code-point index of the first character of `text` whose substitute flag is `0` but
 * which is not in JIS X 0208, or undefined when there is none. `flags` has one `0`/`1` per code point
 * of `text` (checked by the caller); a flagged character (`1`) is a substitute and is not checked.
 */
export function firstUnsubstitutedOutsideJis(text: string, flags: string): number | undefined {
  const set = jisX0208Repertoire();
  let i = 0;
  for (const char of text) {
    if (flags[i] !== "1" && !set.has(char.codePointAt(0)!)) return i;
    i++;
  }
  return undefined;
}
