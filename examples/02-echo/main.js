// Echo: three ports, a fixed answer, the request body echoed, and the
// client's address. The upstream services for examples 03 to 07.
//   pipy examples/02-echo/main.js
//   curl localhost:8080              -> Hi, there!
//   curl localhost:8081 -d 'hello'   -> hello
//   curl localhost:8082/hello        -> You are requesting /hello from 127.0.0.1
pipy()

  .listen(8080)
  .serveHTTP(new Message('Hi, there!\n'))

  .listen(8081)
  .serveHTTP(msg => new Message(msg.body))

  .listen(8082)
  .serveHTTP(
    msg => new Message(
      `You are requesting ${msg.head.path} from ${__inbound.remoteAddress}\n`
    )
  )
