import { MemorySigner } from "../../../hsm/memory-signer.js";
import { signerContract } from "../../contract/signer.js";

signerContract("MemorySigner", async (spec) => MemorySigner.generate(spec));
