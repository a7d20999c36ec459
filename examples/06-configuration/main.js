// Configuration: routes and services come from config.json, evaluated once with
// pipy.solve() (upstream's tutorial reads it with JSON.decode(pipy.load(...)),
// which works here too).
//   pipy examples/02-echo/main.js &
//   pipy examples/06-configuration/main.js
//   curl localhost:8000/hi     -> Hi, there!
//   curl localhost:8000/echo -d 'hello'   -> hello
((
  config = pipy.solve('config.json'),
  router = new algo.URLRouter(config.routes),
  services = Object.fromEntries(
    Object.entries(config.services).map(
      ([k, v]) => [
        k, new algo.RoundRobinLoadBalancer(v)
      ]
    )
  ),

) => pipy({
  _target: undefined,
})

  .listen(config.listen)
  .demuxHTTP().to(
    $=>$
    .handleMessageStart(
      msg => (
        ((
          s = router.find(
            msg.head.headers.host,
            msg.head.path,
          )
        ) => (
          _target = services[s]?.next?.()
        ))()
      )
    )
    .branch(
      () => Boolean(_target), (
        $=>$.muxHTTP(() => _target).to(
          $=>$.connect(() => _target.id)
        )
      ), (
        $=>$.replaceMessage(
          new Message({ status: 404 }, 'No route')
        )
      )
    )
  )

)()
