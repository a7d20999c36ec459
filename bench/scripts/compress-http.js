// compressHTTP: a 16 KiB text answer gzipped per request (bench/codecs.sh).
((text) => pipy()
  .listen(9121)
  .demuxHTTP().to($=>$
    .replaceMessage(new Message({ status: 200, headers: { 'content-type': 'text/plain' } }, text))
    .compressHTTP(msg => 'gzip')
  )
)(new Array(512).fill('pipy compresses this line of text. ').join(''))
