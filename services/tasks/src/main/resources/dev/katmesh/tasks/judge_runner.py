# katmesh's judge runner (CaseJudge): imports the solution and calls its entry point once per case.
# It only reports answers. The expected answers are not in this sandbox; the harness compares them
# outside it, so nothing the solution prints, patches or exits with can turn a wrong answer right.
import importlib, json, os, signal, sys


class CaseTimeout(BaseException):
    pass


def on_alarm(signum, frame):
    raise CaseTimeout()


def main():
    module, entry, per_case_s = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open('_judge_cases.json', encoding='utf-8') as f:
        cases = json.load(f)
    os.remove('_judge_cases.json')
    out = os.fdopen(os.dup(1), 'w', encoding='utf-8')  # our own descriptor: the solution may close or replace stdout

    def report(i, key, value):
        out.write('\x1ekatmesh-answer ' + json.dumps({'case': i, key: value}) + '\n')
        out.flush()

    sys.path.insert(0, os.getcwd())
    signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.alarm(per_case_s)
        fn = getattr(importlib.import_module(module), entry)
        signal.alarm(0)
    except BaseException as e:
        report(-1, 'error', 'import: ' + type(e).__name__)
        return
    for i, args in enumerate(cases):
        try:
            signal.alarm(per_case_s)
            value = fn(*args)
            signal.alarm(0)
            report(i, 'value', json.loads(json.dumps(value)))
        except BaseException as e:
            signal.alarm(0)
            report(i, 'error', type(e).__name__)


main()
