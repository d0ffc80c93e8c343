/** A configuration that must not start the service: the message names the field (api/config.ts). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
