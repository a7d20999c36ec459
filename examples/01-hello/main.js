// Hello: answers every HTTP request with a fixed message.
//   pipy examples/01-hello/main.js
//   curl localhost:8080        -> Hi, there!
pipy()

  .listen(8080)
  .serveHTTP(new Message('Hi, there!\n'))
