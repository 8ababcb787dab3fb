// The merchant's service behind mpesa listen --forward-to, and the result
// URL of the Daraja run: it records each body it receives (one JSON line in
// the file named by argv[3]) and acknowledges it as the Mozambique document
// 'Async response, callback and response codes' shows, or a Daraja callback
// (an STK callback, a Result) as docs/gateways.md D28 does. Listens on
// 127.0.0.1:argv[2].
import http from "node:http";
import fs from "node:fs";

const [port, file] = process.argv.slice(2);
http.createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    fs.appendFileSync(file, body.trim() + "\n");
    const cb = JSON.parse(body);
    if (cb.Body?.stkCallback || cb.Result) {
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ ResultCode: 0, ResultDesc: "Accepted" }));
      return;
    }
    const ack = JSON.stringify({
      output_OriginalConversationID: cb.input_OriginalConversationID,
      output_ResponseCode: "0",
      output_ResponseDesc: "Successfully Accepted Result",
      output_ThirdPartyConversationID: cb.input_ThirdPartyReference ?? cb.input_ThirdPartyConversationID,
    });
    res.writeHead(200, { "Content-Type": "application/json" }).end(ack);
  });
}).listen(Number(port), "127.0.0.1");
