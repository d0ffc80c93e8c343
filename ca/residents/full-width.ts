/**
 * "Full-width" text as the JPKI profile wants it for the name, alias and address otherNames
 * (docs/domain.md §2: 全角). Whether each character is in JIS X 0208 is the substitute-character process's
 * job upstream (the flags mark substitutes); here we refuse what is certainly not full-width text:
 *
 * - East Asian Width Narrow (Na: ASCII U+0020–U+007E, ¢ £ ¥ ¦ ¬ ¯, ⟦…⟭, ⦅⦆) and Halfwidth
 *   (H: ₩, half-width katakana/hangul U+FF61–U+FFDC, U+FFE8–U+FFEE) characters (UAX #11);
 * - controls, format characters (zero-width joiners, BOM), lone surrogates, private-use and
 *   unassigned code points, line/paragraph separators;
 * - every space except the ideographic space U+3000;
 * - combining marks and variation selectors: substitute flags count one flag per code point, so a
 *   base character plus a mark would need two flags for what a reader sees as one character.
 */
const NOT_FULL_WIDTH =
  /[\u0020-\u007E\u00A2\u00A3\u00A5\u00A6\u00AC\u00AF\u27E6-\u27ED\u2985\u2986\u20A9\uFF61-\uFFDC\uFFE8-\uFFEE\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{M}]|(?!\u3000)\p{Zs}/u;

/** The ideographic (full-width) space that separates surname and given name. */
export const IDEOGRAPHIC_SPACE = "\u3000";

/** True when every code point of `text` is acceptable full-width text (see above). */
export function isFullWidthText(text: string): boolean {
  return !NOT_FULL_WIDTH.test(text);
}

/** Length in Unicode code points (what a substitute-flag string counts), not UTF-16 units. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
