// The baseline L: a bare Node http server that reads the body and answers a tiny JSON body, in a
// process of its own like Refract. It prints its URL on the first stdout line.
import * as http from "node:http";

const answer = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": answer.length });
    res.end(answer);
  });
});
server.keepAliveTimeout = 65_000; // as Refract's, so idle paced sockets are not dropped midway
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }) + "\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)) && server.closeAllConnections());
