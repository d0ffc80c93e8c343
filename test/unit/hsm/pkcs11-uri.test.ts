import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import { formatPkcs11Uri, parsePkcs11Uri, privateKeyUri } from "../../../hsm/pkcs11-uri.js";

const invalid = (text: string, pattern: RegExp): void => {
  assert.throws(
    () => parsePkcs11Uri(text),
    (e: unknown) => e instanceof CaError && e.kind === "invalid-input" && pattern.test(e.message),
  );
};

describe("hsm/pkcs11-uri", function () {
  it("parses our key names", function () {
    const u = parsePkcs11Uri("pkcs11:token=jpki-ca;object=sign-g1;type=private");
    assert.deepEqual({ ...u }, { token: "jpki-ca", object: "sign-g1", type: "private" });
  });

  it("formats our key names and round-trips them", function () {
    const text = privateKeyUri("jpki-ca", "sign-g1");
    assert.equal(text, "pkcs11:token=jpki-ca;object=sign-g1;type=private");
    assert.deepEqual({ ...parsePkcs11Uri(text) }, { token: "jpki-ca", object: "sign-g1", type: "private" });
  });

  it("decodes id as raw bytes and always percent-encodes it", function () {
    const u = parsePkcs11Uri("pkcs11:id=%01%ff%41B");
    assert.deepEqual(u.id, Uint8Array.from([0x01, 0xff, 0x41, 0x42]));
    assert.equal(formatPkcs11Uri({ id: Uint8Array.from([0x01, 0xff, 0x41]) }), "pkcs11:id=%01%FF%41");
  });

  it("decodes percent-encoded UTF-8 in strings and encodes non-unreserved characters", function () {
    const u = parsePkcs11Uri("pkcs11:token=A%20CA%3Bx;object=%E7%BD%B2%E5%90%8D");
    assert.equal(u.token, "A CA;x");
    assert.equal(u.object, "署名");
    const text = formatPkcs11Uri({ token: "A CA;x", object: "署名" });
    assert.equal(text, "pkcs11:token=A%20CA%3Bx;object=%E7%BD%B2%E5%90%8D");
    assert.deepEqual({ ...parsePkcs11Uri(text) }, { token: "A CA;x", object: "署名" });
  });

  it("parses the RFC 7512 §3 examples", function () {
    assert.deepEqual({ ...parsePkcs11Uri("pkcs11:") }, {});
    const a = parsePkcs11Uri("pkcs11:object=my-pubkey;type=public");
    assert.equal(a.type, "public");
    const b = parsePkcs11Uri("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin");
    assert.equal(b.token, "The Software PKCS#11 Softtoken");
    assert.equal(b.manufacturer, "Snake Oil, Inc.");
    assert.equal(b.serial, "");
    assert.equal(b.pinSource, "file:/etc/token_pin");
    assert.deepEqual(b.id, Uint8Array.from([0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91]));
    const c = parsePkcs11Uri("pkcs11:token=my-token;object=my-key?pin-value=1234&module-path=/usr/lib/softhsm/libsofthsm2.so");
    assert.equal(c.pinValue, "1234");
    assert.equal(c.modulePath, "/usr/lib/softhsm/libsofthsm2.so");
    const d = parsePkcs11Uri("pkcs11:slot-description=Sun%20Metaslot;slot-id=5;library-version=1.2;x-vendor=a");
    assert.equal(d.slotDescription, "Sun Metaslot");
    assert.equal(d.slotId, 5);
    assert.equal(d.libraryVersion, "1.2");
    assert.deepEqual(d.vendor, { "x-vendor": "a" });
  });

  it("round-trips query attributes", function () {
    const text = "pkcs11:token=t;object=o;type=private?pin-source=file:/run/pin&module-path=/usr/lib/x.so";
    assert.equal(formatPkcs11Uri(parsePkcs11Uri(text)), text);
    const odd = { modulePath: "/opt/a b&c.so", vendorQuery: { "x-q": "1&2" } };
    assert.equal(formatPkcs11Uri(odd), "pkcs11:?module-path=/opt/a%20b%26c.so&x-q=1%262");
    assert.deepEqual({ ...parsePkcs11Uri(formatPkcs11Uri(odd)) }, odd);
  });

  it("refuses malformed URIs with clear messages", function () {
    invalid("pkcs12:token=a", /must start with "pkcs11:"/);
    invalid("token=a", /must start with "pkcs11:"/);
    invalid("pkcs11:token=a;token=b", /"token" appears more than once/);
    invalid("pkcs11:colour=red", /unknown attribute "colour"/);
    invalid("pkcs11:token=a;;object=b", /empty path attribute/);
    invalid("pkcs11:token", /has no "name="/);
    invalid("pkcs11:object=a%2", /bad percent-encoding in "object"/);
    invalid("pkcs11:object=a%zz", /bad percent-encoding/);
    invalid("pkcs11:object=a b", /not allowed unencoded in "object"/);
    invalid("pkcs11:object=a/b", /not allowed unencoded in "object"/);
    invalid("pkcs11:object=%FF%FE", /not valid UTF-8/);
    invalid("pkcs11:type=secret", /"type" must be one of/);
    invalid("pkcs11:slot-id=x1", /"slot-id" must be a decimal number/);
    invalid("pkcs11:library-version=1.x", /"library-version"/);
    invalid("pkcs11:pin-value=1234", /belongs in the query/);
    invalid("pkcs11:?token=a", /belongs in the path/);
    invalid("pkcs11:object=a?pin-source=file:/p&pin-value=1", /must not be used together/);
    invalid("pkcs11:object=a#frag", /fragments/);
  });

  it("never puts a PIN into an error message", function () {
    for (const text of ["pkcs11:object=a?pin-value=s3cret&pin-value=s3cret", "pkcs11:object=a?pin-value=s3cret%zz", "pkcs11:object=a?pin-value=s3cret&pin-source=x"]) {
      assert.throws(
        () => parsePkcs11Uri(text),
        (e: unknown) => e instanceof CaError && !e.message.includes("s3cret"),
      );
    }
  });
});
