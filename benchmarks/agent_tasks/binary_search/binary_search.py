def find(items, value):
    pass
