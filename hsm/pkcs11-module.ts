import * as graphene from "graphene-pk11";
import pkcs11js from "pkcs11js";
import { CaError } from "../ca/errors.js";
import { ckrName } from "./pkcs11-error.js";

/**
 * One loaded PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so) and its initialization state.
 *
 * C_Initialize/C_Finalize are process-wide (PKCS#11 v2.40 §5.4): every `Pkcs11Module` on the same
 * library shares one state. We therefore remember whether *this* object's C_Initialize succeeded
 * (it "owns" the initialization) and only the owner finalizes on {@link close}; anyone else who finds
 * the library finalized re-initializes it during recovery. `epoch` counts (re)initializations seen by
 * this object: session and object handles from an older epoch are dead and must not be closed
 * (a new initialization may hand the same handle numbers to someone else).
 */
export class Pkcs11Module {
  private ownsInitialization = false;
  private currentEpoch = 0;

  private constructor(
    readonly path: string,
    private readonly mod: graphene.Module,
  ) {}

  /**
   * Loads the library (dlopen) without initializing it.
   * @throws CaError("unavailable") when the file cannot be loaded.
   */
  static load(modulePath: string): Pkcs11Module {
    try {
      return new Pkcs11Module(modulePath, graphene.Module.load(modulePath, "pkcs11"));
    } catch (e) {
      throw new CaError("unavailable", `cannot load PKCS#11 module ${modulePath}`, { cause: e });
    }
  }

  /** The underlying pkcs11js handle (for session-level calls graphene does not wrap). */
  get lib(): pkcs11js.PKCS11 {
    return this.mod.lib;
  }

  /** Increases on every (re)initialization done through this object. */
  get epoch(): number {
    return this.currentEpoch;
  }

  /**
   * C_Initialize with CKF_OS_LOCKING_OK. Mandatory: without init args SoftHSM disables its own
   * locking and concurrent async C_Sign calls on the libuv pool segfault (docs/traps.md §2).
   * CKR_CRYPTOKI_ALREADY_INITIALIZED (someone else in the process did it) is fine.
   */
  initialize(): void {
    try {
      this.mod.lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
      this.ownsInitialization = true;
    } catch (e) {
      if (ckrName(e) !== "CKR_CRYPTOKI_ALREADY_INITIALIZED") {
        throw new CaError("unavailable", `C_Initialize of ${this.path} failed: ${ckrName(e) ?? "error"}`, { cause: e });
      }
    }
    this.currentEpoch++;
  }

  /**
   * Recovery: C_Finalize (when `finalizeFirst`; errors ignored) then C_Initialize. Every session and
   * object handle of the previous epoch becomes invalid. The caller must make sure no call of this
   * object is in flight (the session pool drains first).
   */
  reinitialize(finalizeFirst: boolean): void {
    if (finalizeFirst) {
      try {
        this.mod.lib.C_Finalize();
      } catch {
        // CKR_CRYPTOKI_NOT_INITIALIZED: already finalized, which is what we wanted.
      }
      this.ownsInitialization = false;
    }
    this.initialize();
  }

  /**
   * Slots that hold a token, with the token label (padding removed: blanks as PKCS#11 v2.40 §3.2 says,
   * and NULs, which opencryptoki keeps when a label was set unpadded; docs/hsm-vendors.md).
   */
  tokens(): Array<{ slot: graphene.Slot; label: string }> {
    const slots = this.mod.getSlots(true);
    const out: Array<{ slot: graphene.Slot; label: string }> = [];
    for (let i = 0; i < slots.length; i++) {
      const slot = slots.items(i);
      out.push({ slot, label: slot.getToken().label.replace(/[\s\u0000]+$/, "") });
    }
    return out;
  }

  /**
   * The slot whose token has this label. Always by label, never by slot number: SoftHSM assigns a
   * random slot id at --init-token (docs/traps.md §1), and real HSMs renumber on reconfiguration.
   */
  findSlot(tokenLabel: string): graphene.Slot | undefined {
    return this.tokens().find((t) => t.label === tokenLabel)?.slot;
  }

  /**
   * Finalizes the library if this object initialized it. The library stays loaded: dlclose while
   * another part of the process still uses it would pull it away underneath.
   */
  close(): void {
    if (!this.ownsInitialization) return;
    this.ownsInitialization = false;
    try {
      this.mod.lib.C_Finalize();
    } catch {
      // already finalized by someone else
    }
  }
}
