// Plugins: requests walk through a chain of modules (router, balancer,
// default) that share the exported variable __route.
//   pipy examples/02-echo/main.js &
//   pipy examples/07-plugins/main.js
//   curl localhost:8000/hi     -> Hi, there!
//   curl localhost:8000/bad    -> No handler (404)
((
  config = pipy.solve('config.js'),

) => pipy()

  .export('main', {
    __route: undefined,
  })

  .listen(config.listen)
  .demuxHTTP().to(
    $=>$.chain(config.plugins)
  )

)()
