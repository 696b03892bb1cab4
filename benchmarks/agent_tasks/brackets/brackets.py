def is_paired(text):
    pass
