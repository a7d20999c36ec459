// Load balancing: round robin over targets; requests of one connection stick
// to one target.
//   pipy examples/02-echo/main.js &
//   pipy examples/05-load-balancing/main.js
//   curl localhost:8000/hi     -> Hi, there!
//   curl localhost:8000/hi     -> You are requesting /hi from 127.0.0.1
((
  router = new algo.URLRouter({
    '/hi/*': new algo.RoundRobinLoadBalancer(['localhost:8080', 'localhost:8082']),
    '/echo': new algo.RoundRobinLoadBalancer(['localhost:8081']),
    '/ip/*': new algo.RoundRobinLoadBalancer(['localhost:8082']),
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
        )?.next?.()
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
