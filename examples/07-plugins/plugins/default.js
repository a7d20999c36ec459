// Plugin: the last resort, 404 for anything not handled before.
pipy()

  .pipeline()
  .replaceMessage(new Message({ status: 404 }, 'No handler'))
