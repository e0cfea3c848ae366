"""Rule 8, SQS name reuse. CreateQueue of a name deleted less than
`sqs_deleted_recently` ago answers QueueDeletedRecently (JSON protocol:
__type com.amazonaws.sqs#QueueDeletedRecently plus x-amzn-query-error
AWS.SimpleQueueService.QueueDeletedRecently;Sender; query protocol: the
AWS.SimpleQueueService code).
Source: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html
("you must wait at least 60 seconds before creating a queue with the same name")."""

from ..errors import error

MESSAGE = "You must wait 60 seconds after deleting a queue before you can create another queue with the same name."


def _param(req, name):
    return (req.json or {}).get(name) if req.protocol == "json" else req.params.get(name)


def before(ctx, req):
    if req.service != "sqs" or req.action != "CreateQueue":
        return None
    name = _param(req, "QueueName") or ""
    age = ctx.state.age("sqs-deleted", name)
    if age is not None and age < ctx.cfg.dur("sqs_deleted_recently"):
        ctx.stats.bump("sqs.queue_deleted_recently")
        code = "QueueDeletedRecently" if req.protocol == "json" else "AWS.SimpleQueueService.QueueDeletedRecently"
        return error(req, 400, code, MESSAGE)
    return None


def after(ctx, req, resp):
    if req.service == "sqs" and req.action == "DeleteQueue" and resp.ok:
        url = _param(req, "QueueUrl") or ""
        ctx.state.put("sqs-deleted", url.rstrip("/").rsplit("/", 1)[-1])
    return resp
