import { createHash, timingSafeEqual } from "node:crypto";
import { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./respond";

/**
 * The checks `/api` and `/events` make before anything else: no cross-site callers (a request
 * with an Origin other than this server's is refused, and no CORS headers are ever sent), then the
 * bearer token, compared in constant time. Answers the refusal itself and returns false.
 */
export function bearerCheck(token: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = digest(token);
  return (req, res) => {
    if (req.headers.origin !== undefined && req.headers.origin !== `http://${req.headers.host}`) {
      sendJson(res, 403, { errors: [{ message: `Requests from ${req.headers.origin} are refused: the API answers this server's own pages and non-browser clients` }] });
      return false;
    }
    const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
    if (!given || !timingSafeEqual(digest(given), expected)) {
      sendJson(res, 401, { errors: [{ message: given ? "Invalid token" : "Missing token: send Authorization: Bearer <token> (refract serve prints it)" }] }, { "www-authenticate": "Bearer" });
      return false;
    }
    return true;
  };
}

/** Both sides hashed first, so the comparison takes the same time whatever the given token's length. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
