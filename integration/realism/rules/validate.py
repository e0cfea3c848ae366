def before(ctx, req):
    return None
