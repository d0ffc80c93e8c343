import { pino, type Logger } from "pino";

/**
 * The service logger. docs/design.md invariant 6: no personal data in logs. Handlers log ids, serials and
 * outcomes only; as a second line of defence the paths below are redacted wherever they appear.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "jpki-ca" },
      redact: {
        paths: [
          "pin",
          "*.pin",
          "password",
          "*.password",
          "*.newPassword",
          "*.currentPassword",
          "req.headers.authorization",
          "resident",
          "*.resident",
          "residentCode",
          "*.residentCode",
          "name",
          "*.name",
          "address",
          "*.address",
          "dateOfBirth",
          "*.dateOfBirth",
        ],
        censor: "[redacted]",
      },
    },
    destination as never,
  );
}

export type { Logger };
