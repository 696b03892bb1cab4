def response(message):
    pass
