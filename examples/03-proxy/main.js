// Proxy: forwards every request on port 8000 to localhost:8080.
//   pipy examples/02-echo/main.js &    (the upstream)
//   pipy examples/03-proxy/main.js
//   curl localhost:8000        -> Hi, there!   (502 while no upstream runs)
pipy()

  .listen(8000)
  .demuxHTTP().to(
    $=>$.muxHTTP().to(
      $=>$.connect('localhost:8080')
    )
  )
