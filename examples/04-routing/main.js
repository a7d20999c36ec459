// Routing: picks the upstream by path.
//   pipy examples/02-echo/main.js &
//   pipy examples/04-routing/main.js
//   curl localhost:8000/hi     -> Hi, there!
//   curl localhost:8000/ip     -> You are requesting /ip from 127.0.0.1
//   curl localhost:8000/bad    -> No route (404)
((
  router = new algo.URLRouter({
    '/hi/*': 'localhost:8080',
    '/echo': 'localhost:8081',
    '/ip/*': 'localhost:8082',
  }),

) => pipy({
  _target: undefined,
})

  .listen(8000)
  .demuxHTTP().to(
    $=>$
    .handleMessageStart(
      msg => (
        _target = router.find(
          msg.head.headers.host,
          msg.head.path,
        )
      )
    )
    .branch(
      () => Boolean(_target), (
        $=>$.muxHTTP(() => _target).to(
          $=>$.connect(() => _target)
        )
      ), (
        $=>$.replaceMessage(
          new Message({ status: 404 }, 'No route')
        )
      )
    )
  )

)()
