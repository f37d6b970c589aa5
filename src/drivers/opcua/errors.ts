// OPC UA failures that need a person; the classes live in the one catalogue, src/errors.ts.
export { OpcuaCertificateError, OpcuaIdentityError, OpcuaServerMismatchError } from "../../errors.js";
