// Turns what Node, OpenSSL and mqtt.js report on a failed connection into one line that says
// what went wrong and what to check, for the log and for stats().lastError.

interface ErrLike {
  readonly message: string;
  readonly code?: string | number;
}

const hints: readonly [RegExp, string][] = [
  [/SELF_SIGNED_CERT|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/, "the broker's certificate is not signed by the CA in mqtt.ca_file: check ca_file"],
  [/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/, "the broker's certificate is outside its validity period: check both clocks and the certificate"],
  [/ERR_TLS_CERT_ALTNAME_INVALID/, "the broker's certificate does not name the host in mqtt.url: use the name it was issued for"],
  [/CERTIFICATE_REQUIRED/, "the broker requires a client certificate: set mqtt.cert_file and mqtt.key_file"],
  [/ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|DECRYPT_ERROR)/, "the broker refused our client certificate: check cert_file/key_file and the broker's cafile"],
  [/ECONNREFUSED/, "nothing listens at mqtt.url: is the broker running?"],
  [/ENOTFOUND|EAI_AGAIN/, "the broker's host name does not resolve: check mqtt.url"],
  [/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/, "the broker cannot be reached: check mqtt.url and the network"],
  [/ECONNRESET|EPIPE/, "the broker closed the connection"],
  [/Not authorized|Bad username or password/i, "the broker refused our credentials: check mqtt.username and password_file, and the broker's ACL"],
  [/Identifier rejected/i, "the broker refused our client id"],
  [/protocol version/i, "the broker does not speak MQTT 5: set mqtt.protocol_version: 4 (the retained status then has no broker-side expiry)"],
  [/connack timeout/i, "the broker did not answer CONNECT in time"],
];

/** `"<what happened> (<code>): <what to check>"`, OpenSSL's internal prefix removed. */
export function explainConnectionError(err: ErrLike): string {
  const code = err.code === undefined ? "" : String(err.code);
  // OpenSSL messages look like "80DC…:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:…".
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(err.message);
  const what = (ssl?.[1] ?? err.message).trim();
  const hint = hints.find(([re]) => re.test(code) || re.test(err.message))?.[1];
  return `${what}${code === "" ? "" : ` (${code})`}${hint === undefined ? "" : `: ${hint}`}`;
}
