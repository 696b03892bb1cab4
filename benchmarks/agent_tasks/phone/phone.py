def clean(number):
    pass
