#!/usr/bin/env pipy
// Routing written in statements, the module form upstream Pipy 1.5 also
// runs: imports, top-level variables, pipeline values and pipy.listen.
// A variable whose name starts with `$` holds one value per stream.
//   pipy examples/02-echo/main.js &
//   pipy examples/08-statements/main.js
//   curl localhost:8000/hi     -> Hi, there!
//   curl localhost:8000/ip     -> You are requesting /ip from 127.0.0.1
//   curl localhost:8000/bad    -> No route (404)
import config from './config.js'

var router = new algo.URLRouter(config.routes)
var $target

var forward = pipeline($=>$
  .muxHTTP(() => $target).to($=>$
    .connect(() => $target)
  )
)

var notFound = pipeline($=>$
  .replaceMessage(new Message({ status: 404 }, 'No route'))
)

pipy.listen(8000, $=>$
  .demuxHTTP().to($=>$
    .pipe(function (evt) {
      if (evt instanceof MessageStart) {
        $target = router.find(evt.head.headers.host, evt.head.path)
        return $target ? forward : notFound
      }
    })
  )
)
