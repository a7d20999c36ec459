#!/usr/bin/env pipy
// An access log in statements: answers every request, and writes one JSON
// line per request (method, path, status, milliseconds) to the standard
// output with a logging.JSONLogger.
//   pipy examples/09-access-log/main.js
//   curl localhost:8080/x      -> Hi, there!
//                                 (stdout: {"method":"GET","path":"/x","status":200,"ms":0})
var log = new logging.JSONLogger('access').toStdout()

var $request
var $start

pipy.listen(8080, $=>$
  .demuxHTTP().to($=>$
    .handleMessageStart(function (msg) {
      $request = msg.head
      $start = Date.now()
    })
    .replaceMessage(new Message({ status: 200 }, 'Hi, there!\n'))
    .handleMessageStart(function (msg) {
      log.log({
        method: $request.method,
        path: $request.path,
        status: msg.head.status,
        ms: Date.now() - $start,
      })
    })
  )
)
