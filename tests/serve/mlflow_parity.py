#!/usr/bin/env python3
"""mlflow_parity.py - record what MLflow's own scoring server does with a set of /invocations bodies.

    . tests/integration/mlflow_env.sh && PYTHONHASHSEED=0 $PY tests/serve/mlflow_parity.py > tests/serve/mlflow_parity.json

Every case goes through mlflow.pyfunc.scoring_server.invocations() itself - the content-type
checks, CSV and JSON parsing, infer_and_parse_data, params - with a stand-in model whose
predict() runs MLflow's _validate_prediction_input (_enforce_schema, _enforce_params_schema)
and keeps what the model would have received. The output records, per case, whether MLflow
accepted the body, the matrix the model got (float32, the model's column order, null for NaN)
and the params, or the HTTP status, error_code and message. tests/serve/decode.c feeds the
same bodies to serve_decode_mlflow() and checks it against this file.

`expect` lists the substrings cairn's message must contain: MLflow's message less the parts
cairn cannot or does not reproduce (the pandas repr of the data in "Failed to predict data
'...'" and "Failed to enforce schema of data '...'", the order of Python sets, Python's JSON
error text). A case's `cairn` entry, where present, is a deliberate difference, with the reason.
"""
import io
import json
import math
import re
import sys

import numpy as np
import pandas as pd

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.models.signature import ModelSignature
from mlflow.pyfunc import _validate_prediction_input
from mlflow.pyfunc import scoring_server
from mlflow.types import ParamSchema, Schema

SCHEMAS = {
    # name: (signature inputs, params, feature names for a model without signature)
    "ab": ([{"type": "double", "name": "a"}, {"type": "long", "name": "b"}], None, None),
    "ab_opt": ([{"type": "double", "name": "a"}, {"type": "long", "name": "b", "required": False}], None, None),
    "a": ([{"type": "double", "name": "a"}], None, None),
    "l": ([{"type": "long", "name": "l"}], None, None),
    "fi": ([{"type": "float", "name": "f"}, {"type": "integer", "name": "i"}], None, None),
    "bool": ([{"type": "boolean", "name": "t"}], None, None),
    "unnamed": ([{"type": "double"}, {"type": "long"}], None, None),
    "tensor": ([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}], None, None),
    "tensor3d": ([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2, 2]}}], None, None),
    "tensor_int": ([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, 2]}}], None, None),
    "tensor_named": ([{"type": "tensor", "name": "x", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}], None, None),
    "params": ([{"type": "double", "name": "a"}],
               [{"name": "k", "type": "long", "default": 1, "shape": None},
                {"name": "t", "type": "double", "default": 0.5, "shape": None},
                {"name": "s", "type": "string", "default": "abc", "shape": None},
                {"name": "b", "type": "boolean", "default": True, "shape": None},
                {"name": "l", "type": "long", "default": [1, 2], "shape": [-1]},
                {"name": "f", "type": "float", "default": None, "shape": None},
                {"name": "d", "type": "double", "default": 1, "shape": None}], None),
    # no signature: MLflow hands the frame to the model as it is
    "nosig": (None, None, ["f0", "f1"]),
}

J = "application/json"
C = "text/csv"


def split(cols, data, **kw):
    d = {"columns": cols, "data": data}
    d.update(kw)
    return json.dumps({"dataframe_split": d})


def body(**kw):
    return json.dumps(kw)


CASES = [
    # --- content types (invocations) ---
    ("ab", "text/plain", split(["a", "b"], [[1, 2]])),
    ("ab", "application/json; charset=latin-1", split(["a", "b"], [[1, 2]])),
    ("ab", "application/json; charset=UTF-8", split(["a", "b"], [[1, 2]])),
    ("ab", "application/json;charset=utf-8", split(["a", "b"], [[1, 2]])),
    ("ab", "application/json; format=pandas-split", split(["a", "b"], [[1, 2]])),
    ("ab", "application/json;", split(["a", "b"], [[1, 2]])),
    ("ab", "Application/JSON", split(["a", "b"], [[1, 2]])),
    ("ab", "text/csv; charset=utf-8", "a,b\n1,2\n"),
    # --- the body ---
    ("ab", J, "{bad"),
    ("ab", J, ""),
    ("ab", J, "[1, 2]"),
    ("ab", J, "5"),
    ("ab", J, '"x"'),
    ("ab", J, "{}"),
    ("ab", J, '{"a": 1}'),
    ("ab", J, body(inputs={"a": [1], "b": [2]}, instances=[[1, 2]])),
    ("ab", J, body(inputs={"a": [1], "b": [2]}, signature_name="serving_default")),
    ("ab", J, body(input=[1, 2])),
    ("ab", J, '{"dataframe_split": {"columns": ["a", "b"], "data": [[NaN, 2]]}}'),
    ("ab", J, '{"dataframe_split": {"columns": ["a", "b"], "data": [[Infinity, 2], [-Infinity, 3]]}}'),
    ("ab", J, '{"dataframe_split": {"columns": ["a", "b"], "data": [[1e400, 2]]}}'),
    # --- dataframe_split ---
    ("ab", J, split(["a", "b"], [[1.5, 2], [-3, 4]])),
    ("ab", J, split(["b", "a"], [[2, 1.5]])),
    ("ab", J, split(["a", "b", "c"], [[1, 2, 3]])),
    ("ab", J, split(["a", "b"], [[1, 2]], index=[7])),
    ("ab", J, split(["a", "b"], [[1, 2]], index=[7, 8])),
    ("ab", J, split(["a", "b"], [[1, 2], [3, 4]], index=[7, 8, 9])),
    ("ab", J, split(["a", "b"], [[1, 2]], index=[])),
    ("ab", J, split(["a", "b"], [], index=[7])),
    ("a", J, split(["a"], [], index=[7, 8])),
    ("ab", J, split(["a", "b"], [])),
    ("ab", J, split(["a", "b"], [["1.5", " 2 "]])),
    ("ab", J, split(["a", "b"], [["1_0.5", "5.0"]])),
    ("ab", J, split(["a", "b"], [[True, False]])),
    ("ab", J, split(["a", "b"], [[1, 2.7], [1, -2.7]])),
    ("ab", J, split(["a", "b"], [[None, 2]])),
    ("ab", J, split(["a", "b"], [[1, 2], [2, None]])),
    ("ab", J, split(["a", "b"], [[1, None]])),
    ("ab", J, split(["a", "b"], [[1, "x"], [2, None]])),
    ("ab", J, split(["a", "b"], [[1, None], [2, "x"]])),
    ("ab", J, split(["a", "b"], [["x", "y"]])),
    ("ab", J, split(["a", "b"], [[1, "x"], ["y", 2]])),
    ("ab", J, split(["a", "b"], [[1, [2]]])),
    ("ab", J, split(["a", "b"], [[{"x": 1}, 2]])),
    ("ab", J, split(["a", "b"], [[1, 2, 3]])),
    ("ab", J, split(["a", "b"], [[1]])),
    ("ab", J, split(["a", "b"], [[1, 2], [3]])),
    ("ab", J, split(["a", "b"], [1, 2])),
    ("a", J, split(["a"], [1, 2])),
    ("ab", J, body(dataframe_split={"data": [[1, 2]]})),
    ("ab", J, split(["b", "c"], [[1, 2]])),
    ("ab", J, split(["c"], [[1]])),
    ("ab", J, split([0, 1], [[1, 2]])),
    ("ab", J, body(dataframe_split={"columns": ["a", "b"]})),
    ("ab", J, body(dataframe_split={"columns": ["a", "b"], "data": [[1, 2]], "x": 1})),
    ("ab", J, body(dataframe_split=[[1, 2]])),
    ("ab", J, body(dataframe_split=5)),
    ("ab", J, body(dataframe_split={"columns": ["a", "b"], "data": 5})),
    ("ab_opt", J, split(["a"], [[1], [2]])),
    ("ab_opt", J, split(["a", "b"], [[1, None]])),
    ("ab_opt", J, split(["b"], [[1]])),
    ("fi", J, split(["f", "i"], [[1.1, 3000000000]])),
    ("fi", J, split(["f", "i"], [[1e40, 2]])),
    ("fi", J, split(["f", "i"], [[1.5, 2.5]])),
    ("bool", J, split(["t"], [[1], [0], [2.5], [None], ["x"], [""], [True]])),
    ("bool", J, split(["t"], [[1], [0], [None]])),
    ("bool", J, split(["t"], [[True], [None]])),
    ("bool", J, split(["t"], [[True], [False]])),
    ("l", J, split(["l"], [[1], [None]])),
    ("l", J, split(["l"], [[None]])),
    ("l", J, split(["l"], [["5"], [" 7 "], [True]])),
    ("l", J, split(["l"], [[float("nan")], ["x"]])),
    ("unnamed", J, split(["p", "q"], [[1, 2.5]])),
    ("unnamed", J, split(["p"], [[1]])),
    ("unnamed", J, split(["p", "q", "r"], [[1, 2, 3]])),
    ("unnamed", J, split(["p", "q"], [["x", 2]])),
    ("tensor", J, split(["a", "b", "c"], [[1, 2, 3]])),
    ("tensor", J, split(["a", "b"], [[1, 2]])),
    ("tensor", J, split(["a", "b", "c"], [[1, "x", 3]])),
    ("tensor", J, split(["a", "b", "c"], [])),
    # --- dataframe_records ---
    ("ab", J, body(dataframe_records=[{"a": 1, "b": 2}, {"a": 3, "b": 4}])),
    ("ab", J, body(dataframe_records=[{"b": 2, "a": 1, "z": "zz"}])),
    ("ab", J, body(dataframe_records=[{"a": 1, "b": 2}, {"a": 3}])),
    ("ab", J, body(dataframe_records=[{"a": 1, "b": 2}, {"b": 3}])),
    ("ab", J, body(dataframe_records=[{"a": 1}])),
    ("ab", J, body(dataframe_records={"a": 1})),
    ("ab", J, body(dataframe_records=5)),
    ("ab", J, body(dataframe_records=[[1, 2]])),
    ("ab", J, body(dataframe_records=[{"a": 1, "b": 2}, 5])),
    ("ab", J, body(dataframe_records=[])),
    ("ab", J, body(dataframe_records=[{"a": "x", "b": 1}])),
    ("ab_opt", J, body(dataframe_records=[{"a": 1}, {"a": 2, "b": 3}])),
    ("unnamed", J, body(dataframe_records=[{"p": 1, "q": 2}])),
    ("tensor", J, body(dataframe_records=[{"a": 1, "b": 2, "c": 3}])),
    # --- instances ---
    ("ab", J, body(instances=[{"a": 1, "b": 2}, {"a": 3, "b": 4}])),
    ("ab", J, body(instances=[{"a": 1, "b": 2}, {"a": 3}])),
    ("ab", J, body(instances=[{"a": 1, "b": 2.5}])),
    ("ab", J, body(instances=[{"a": None, "b": 2}])),
    ("ab", J, body(instances=[{"a": 1, "b": None}])),
    ("ab", J, body(instances=[{"a": "x", "b": 1}])),
    ("ab", J, body(instances=[{"a": "1.5", "b": "2"}])),
    ("ab", J, body(instances=[{"a": True, "b": True}])),
    ("ab", J, body(instances=[{"a": 1, "b": 2}, 5])),
    ("ab", J, body(instances=[[1, 2], [3, 4]])),
    ("ab", J, body(instances=[[1, "x"]])),
    ("ab", J, body(instances=[1, 2])),
    ("ab", J, body(instances=[])),
    ("ab", J, body(instances={"a": [1], "b": [2]})),
    ("ab", J, body(instances={"a": [1, 2], "b": [2]})),
    ("ab", J, body(instances=5)),
    ("ab_opt", J, body(instances=[{"a": 1}, {"a": 2, "b": 3}])),
    ("a", J, body(instances=[1, 2])),
    ("a", J, body(instances=[[1], [2]])),
    ("a", J, body(instances=[1, None, "3"])),
    ("l", J, body(instances=[1, 2.5])),
    ("l", J, body(instances=[1, None])),
    ("unnamed", J, body(instances=[[1, 2]])),
    ("tensor", J, body(instances=[[1, 2, 3]])),
    ("tensor", J, body(instances=[{"a": 1}])),
    # --- inputs ---
    ("ab", J, body(inputs={"a": [1, 2], "b": [3, 4]})),
    ("ab", J, body(inputs={"a": 1, "b": 3})),
    ("ab", J, body(inputs={"a": [1, 2], "b": [3]})),
    ("ab", J, body(inputs={"a": [1, 2], "b": [3.5, None]})),
    ("ab", J, body(inputs={"a": [1, 2], "b": [3.5, 4.5]})),
    ("ab", J, body(inputs={"a": [1, None], "b": [3, 4]})),
    ("ab", J, body(inputs={"a": ["x", 1], "b": [3, 4]})),
    ("ab", J, body(inputs={"b": ["y"], "a": ["x"]})),
    ("ab", J, body(inputs={"a": [[1], [2]], "b": [3, 4]})),
    ("ab", J, body(inputs={"a": [1, 2], "b": [3, 4], "c": [5, 6]})),
    ("ab", J, body(inputs={"a": [1, 2]})),
    ("ab", J, body(inputs={})),
    ("ab", J, body(inputs=[[1, 2]])),
    ("ab", J, body(inputs=[{"a": 1, "b": 2}])),
    ("ab", J, body(inputs=[{"a": 1, "b": 2}, {"a": 3}])),
    ("ab", J, body(inputs=[{"a": 1, "b": 2}, {"a": 3, "b": 2.5}])),
    ("ab", J, body(inputs=5)),
    ("ab", J, body(inputs={"a": [True, False], "b": [True, False]})),
    ("ab", J, body(inputs={"a": [], "b": []})),
    ("ab_opt", J, body(inputs={"a": [1, 2]})),
    ("ab_opt", J, body(inputs=[{"a": 1, "b": 2}, {"a": 3}])),
    ("a", J, body(inputs=[1, 2])),
    ("a", J, body(inputs={"a": [1, 2]}, params={"x": 1})),
    ("bool", J, body(inputs={"t": [1, 0, 2.5, None, "x", "", True, "False"]})),
    ("fi", J, body(inputs={"f": [1.1], "i": [3000000000]})),
    ("unnamed", J, body(inputs=[[1, 2]])),
    ("unnamed", J, body(inputs={"p": [1], "q": [2]})),
    ("tensor", J, body(inputs=[[1, 2, 3], [4, 5, 6]])),
    ("tensor", J, body(inputs=[[1, 2, 3], [4, 5]])),
    ("tensor", J, body(inputs=[1, 2, 3])),
    ("tensor", J, body(inputs=[[1, 2]])),
    ("tensor", J, body(inputs=[[1, None, "3"]])),
    ("tensor", J, body(inputs=[[1, "x", 3]])),
    ("tensor", J, body(inputs={"a": [1, 2, 3]})),
    ("tensor", J, body(inputs=[[True, False, 1]])),
    ("tensor", J, body(inputs=5)),
    ("tensor", J, body(inputs=[])),
    ("tensor", J, body(inputs=[[]])),
    ("tensor3d", J, body(inputs=[[[1, 2], [3, 4]]])),
    ("tensor3d", J, body(inputs=[[1, 2, 3, 4]])),
    ("tensor_int", J, body(inputs=[[1.5, 2]])),
    ("tensor_int", J, body(inputs=[[None, 2]])),
    ("tensor_named", J, body(inputs={"x": [[1, 2, 3]]})),
    ("tensor_named", J, body(inputs=[[1, 2, 3]])),
    ("tensor_named", J, body(inputs={"y": [[1, 2, 3]]})),
    # --- params ---
    ("params", J, body(inputs={"a": [1]})),
    ("params", J, body(inputs={"a": [1]}, params={})),
    ("params", J, body(inputs={"a": [1]}, params=None)),
    ("params", J, body(inputs={"a": [1]}, params={"k": 5})),
    ("params", J, body(inputs={"a": [1]}, params={"t": 1, "k": 2})),
    ("params", J, body(inputs={"a": [1]}, params={"k": "x"})),
    ("params", J, body(inputs={"a": [1]}, params={"k": 1.5})),
    ("params", J, body(inputs={"a": [1]}, params={"k": True})),
    ("params", J, body(inputs={"a": [1]}, params={"t": "1.5"})),
    ("params", J, body(inputs={"a": [1]}, params={"s": 1})),
    ("params", J, body(inputs={"a": [1]}, params={"s": "x'y"})),
    ("params", J, body(inputs={"a": [1]}, params={"b": 1})),
    ("params", J, body(inputs={"a": [1]}, params={"l": [3, 4]})),
    ("params", J, body(inputs={"a": [1]}, params={"l": 3})),
    ("params", J, body(inputs={"a": [1]}, params={"l": [[1, 2]]})),
    ("params", J, body(inputs={"a": [1]}, params={"l": ["x"]})),
    ("params", J, body(inputs={"a": [1]}, params={"l": None})),
    ("params", J, body(inputs={"a": [1]}, params={"l": []})),
    ("params", J, body(inputs={"a": [1]}, params={"k": None})),
    ("params", J, body(inputs={"a": [1]}, params={"f": 2})),
    ("params", J, body(inputs={"a": [1]}, params={"zz": 1})),
    ("params", J, body(inputs={"a": [1]}, params={"k": [1]})),
    ("params", J, body(inputs={"a": [1]}, params={"k": {"a": 1}})),
    ("params", J, body(inputs={"a": [1]}, params=[1])),
    ("params", J, body(inputs={"a": [1]}, params="x")),
    ("params", J, body(inputs={"a": ["x"]}, params={"k": "x"})),
    ("ab", J, body(inputs={"a": [1], "b": [2]}, params={"k": "x"})),
    ("ab", J, body(inputs={"a": [1], "b": [2]}, params=5)),
    # --- text/csv ---
    ("ab", C, "a,b\n1.5,2\n"),
    ("ab", C, "a,b\r\n1.5,2\r\n"),
    ("ab", C, "b,a\n2,1.5\n"),
    ("ab", C, "a,b\n1.5,2.5\n"),
    ("ab", C, "a,b\n1.5,\n"),
    ("ab", C, "a,b\n,2\n"),
    ("ab", C, "a,b\nx,2\n"),
    ("ab", C, "a,b\n 1.5 , 2 \n"),
    ("ab", C, "a,b\n1.5,2,3\n"),
    ("ab", C, "a,b\n1.5\n"),
    ("ab", C, "a,b,c\n1,2,3\n"),
    ("ab", C, "a\n1\n"),
    ("ab", C, ""),
    ("ab", C, "a,b\n"),
    ("ab", C, '"a","b"\n"1.5","2"\n'),
    ("ab", C, "a,b\nNA,2\n"),
    ("ab", C, "a,b\ninf,2\n-inf,3\nInfinity,4\nnan,5\n"),
    ("ab", C, "a,b\nNone,2\n"),
    ("ab", C, "a,b\n1e3,2\n"),
    ("ab", C, "a,b\n1,x\n"),
    ("ab", C, "a,b\n1,True\n"),
    ("ab", C, "a,b\n1,1e3\n"),
    ("ab", C, "a,b\n1,2\n\n3,4\n"),
    ("ab", C, "a,b\n1,2\n3,4,5\n"),
    ("ab", C, "a,b\n0,1,2\n3,4,5\n"),
    ("ab", C, "\ufeffa,b\n1,2\n"),
    ("ab", C, "a,b\n1,+2\n"),
    ("ab", C, "a,b\n1,1_000\n"),
    ("ab", C, "a,b\n1_0,1\n"),
    ("ab", C, "a,b\n0x10,1\n"),
    ("ab", C, "a,b\nTrue,1\n"),
    ("ab", C, "a,b\n1.5,True\n2.5,1\n"),
    ("ab", C, "a,b\n1,2.0\n"),
    ("ab", C, "a,b\n1,2\n3,\n"),
    ("ab", C, "a;b\n1;2\n"),
    ("ab", C, "a,a\n1,2\n"),
    ("ab", C, ",b\n1,2\n"),
    ("ab", C, 'a,b\n"1,5",2\n'),
    ("ab", C, "a,b\n1,2"),
    ("ab", C, 'a,b\n"1",2\n'),
    ("ab_opt", C, "a\n1\n2\n"),
    ("bool", C, "t\nTrue\nfalse\nTRUE\n"),
    ("bool", C, "t\n1\n0\n"),
    ("bool", C, "t\n2\n"),
    ("bool", C, "t\n1.0\n"),
    ("bool", C, "t\nyes\n"),
    ("bool", C, "t\nTrue\nNA\n"),
    ("bool", C, "t\n1\nNA\n"),
    ("fi", C, "f,i\n1.1,3000000000\n"),
    ("unnamed", C, "p,q\n1,2\n"),
    ("unnamed", C, "p\n1\n"),
    ("tensor", C, "a,b,c\n1,2,3\n"),
    ("tensor", C, "a,b\n1,2\n"),
    ("ab", C, 'a,b\n"NA",2\n'),
    ("ab", C, "a,b\n NA,2\n"),
    ("ab", C, "a,b\r1,2\r3,4\r"),
    ("ab", C, "a,b\n1, 2\n"),
    # --- more shapes ---
    ("ab", J, body(dataframe_split={"columns": ["a", "b"], "data": None})),
    ("ab", J, body(dataframe_records=[None])),
    ("ab", J, split(["a", "a", "b"], [[1, 2, 3]])),
    ("fi", J, body(inputs=[{"f": 1.5, "i": 1}, {"i": 2}])),
    ("ab", J, body(dataframe_records=[{"a": 1}, {"a": 2, "b": "5"}])),
    ("bool", J, body(dataframe_records=[{"t": True}, {"x": 1}])),
    ("bool", J, split(["z", "t"], [[1, True], [2]])),
    ("bool", J, split(["t"], [], index=[1])),
    ("bool", J, body(inputs=[{"t": True}, {}])),
    ("unnamed", J, body(inputs=5)),
    ("unnamed", J, body(instances=[[1, 2], [3]])),
    ("unnamed", J, body(inputs=[[1, 2, 3]])),
    ("unnamed", J, body(inputs=[1, 2])),
    ("a", J, body(inputs=5)),
    ("a", J, body(inputs=[[1, 2]])),
    ("l", J, body(inputs={"l": [1, 2.9, -2.9, True, "7"]})),
    ("l", J, body(inputs={"l": ["7.5"]})),
    ("l", J, body(inputs={"l": [float("nan")]})),
    ("l", J, body(inputs={"l": [float("inf")]})),
    ("fi", J, body(inputs={"f": ["1e3", " 2.5 ", "inf", "nan"], "i": [1, 2, 3, 4]})),
    ("ab", J, body(dataframe_records=[{"a": 1, "b": 2}], params={"k": 1})),
    # --- no signature ---
    ("nosig", J, split(["f0", "f1"], [[1, 2]])),
    ("nosig", J, body(inputs=[[1, 2]])),
    ("nosig", J, body(instances=[[1, 2]])),
    ("nosig", J, body(inputs={"f0": [1], "f1": [2]}, params={"k": 1})),
    ("nosig", C, "f0,f1\n1,2\n"),
    ("nosig", J, split(["f0", "f1"], [[1, "x"]])),
    ("nosig", J, split(["f1", "f0"], [[2, None]])),
]

# Where cairn decides differently, and why.
CAIRN = {
    'tensor application/json {"dataframe_split": {"columns": ["a", "b", "c"], "data": []}}': {
        "expect": ["Invalid input. Data is not compatible with model signature. Failed to convert column ",
                   " to type 'float32'. Error: 'IndexError('single positional indexer is out-of-bounds')'"],
        "why": "MLflow names whichever column a Python set yields first; cairn the first",
    },
    "tensor text/csv a,b,c\\n1,2,3\\n": {
        "ok": True, "matrix": [[1.0, 2.0, 3.0]],
        "why": "MLflow cannot read CSV for any tensor signature (parse_csv_input asks a TensorSpec schema for "
               "pandas_types(), which raises); cairn reads it as a dataframe_split body",
    },
    "tensor text/csv a,b\\n1,2\\n": {
        "expect": ["the input shape must be of the structure (-1, number_of_dataframe_columns). Instead, the input "
                   "DataFrame passed had 2 columns"],
        "error_code": "INVALID_PARAMETER_VALUE",
        "why": "as above: cairn reads it, and then refuses the width as MLflow does for a dataframe_split",
    },
    'nosig application/json {"dataframe_split": {"columns": ["f0", "f1"], "data": [[1, "x"]]}}': {
        "ok": False, "expect": ["Invalid input. Column f1 holds 'x'; this model takes numbers"],
        "error_code": "BAD_REQUEST",
        "why": "without a signature MLflow hands the frame to the model, and XGBoost refuses an object column; "
               "cairn refuses it here",
    },
    "ab text/csv a,b\\nNone,2\\n": {
        "ok": True, "matrix": [[None, 2.0]],
        "why": "pandas 2 (which MLflow 3 supports) reads 'None' as NA; the Debian pandas 1.5.3 this file "
               "was made with does not",
    },
}


def cairn_expect(msg):
    """The substrings cairn's message must contain."""
    m = re.match(r"(?s)^Failed to predict data '.*?'\. \nError: (.*)$", msg)
    if m and "Failed to enforce schema" in m.group(1):
        msg = m.group(1)
    elif m:
        msg = m.group(1)
    m = re.match(r"(?s)^Failed to enforce schema of data '.*' with schema '(\[.*?\])'\. Error: (.*)$", msg)
    if m:
        inner = m.group(2)
        out = ["Failed to enforce schema of data with schema '%s'. Error: " % m.group(1)]
        n = re.match(r"(?s)^(Model is missing inputs \[.*?\]\.)( Note that there were extra inputs: \[(.*)\]\.)?$", inner)
        if n and n.group(3) and "," in n.group(3):
            return out + [n.group(1), " Note that there were extra inputs: ["] + \
                [x.strip() for x in n.group(3).split(",")]
        return [out[0] + inner]
    if msg.startswith("Invalid input. Ensure that input is a valid JSON formatted string."):
        return ["Invalid input. Ensure that input is a valid JSON formatted string. Error: '"]
    fmt = re.compile(r"\{'(?:dataframe_split|dataframe_records|instances|inputs)'(?:, '(?:dataframe_split|"
                     r"dataframe_records|instances|inputs)'){3}\}")
    msg = fmt.sub("{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}", msg)
    m = re.match(r"(?s)^(Invalid input\. Dataframe split format must have 'data' field and optionally 'columns' "
                 r"and 'index' fields\. Got )\{(.*)\}\.'$", msg)
    if m:
        return [m.group(1) + "{"] + [x.strip() for x in m.group(2).split(",")]
    m = re.match(r"(?s)^Invalid parameters found: \{(.*)\}$", msg)
    if m and "), (" in m.group(1):
        return ["Invalid parameters found: {"] + ["(" + x.strip("()") + ")" for x in m.group(1).split("), (")]
    return [msg]


def f32(v):
    x = float(np.float32(v))
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


class Stand:
    """A pyfunc model that does what PyFuncModel.predict does before the model runs."""

    def __init__(self, schema, params):
        self.metadata = Model(signature=ModelSignature(inputs=schema, params=params)) if schema else Model()
        self.schema, self.params = schema, params
        self.got = None

    def predict(self, data, params=None):
        data, params = _validate_prediction_input(data, params, self.schema, self.params)
        self.got = (data, params)
        return [0]


def matrix(data, schema, features):
    if isinstance(data, dict) and schema is None:
        data = pd.DataFrame({f: np.asarray(data[f]).reshape(-1) for f in features})
    if isinstance(data, dict):
        data = next(iter(data.values()))
    if isinstance(data, pd.DataFrame):
        if schema is None and features and set(features) <= set(data.columns):
            data = data[features]
        if schema is not None and schema.has_input_names() and not schema.is_tensor_spec():
            cols = [data[n] if n in data.columns else pd.Series([np.nan] * len(data)) for n in schema.input_names()]
            return [[f32(c.iloc[r]) for c in cols] for r in range(len(data))]
        return [[f32(v) for v in row] for row in data.to_numpy(dtype=np.float64)]
    a = np.asarray(data, dtype=np.float64)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    a = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)
    return [[f32(v) for v in row] for row in a]


def run(name, ct, text):
    inputs, params, features = SCHEMAS[name]
    schema = Schema.from_json(json.dumps(inputs)) if inputs else None
    pschema = ParamSchema.from_json(json.dumps(params)) if params else None
    model = Stand(schema, pschema)
    rec = {"schema": name, "content_type": ct, "body": text}
    try:
        r = scoring_server.invocations(text.encode(), ct, model, schema)
    except MlflowException as e:
        rec.update(ok=False, status=e.get_http_status_code(), error_code=e.error_code, message=e.message,
                   expect=cairn_expect(e.message))
        return rec
    if r.status != 200:
        rec.update(ok=False, status=r.status, message=r.response, expect=[r.response])
        return rec
    data, p = model.got
    try:
        rec.update(ok=True, matrix=matrix(data, schema, features))
    except (TypeError, ValueError) as e:   # no signature: the model gets what the request had
        rec.update(ok=True, matrix=None, note="not numeric, passed on to the model as it is: %s" % e)
    if pschema is not None:
        rec["params"] = p
    return rec


def main():
    out = {
        "source": "MLflow %s (mlflow/mlflow 11c1186), pandas %s, numpy %s: every body through "
                  "mlflow.pyfunc.scoring_server.invocations(); made by tests/serve/mlflow_parity.py, do not "
                  "edit" % (mlflow.__version__, pd.__version__, np.__version__),
        "schemas": {k: {"inputs": v[0], "params": v[1], "features": v[2]} for k, v in SCHEMAS.items()},
        "cases": [],
    }
    for name, ct, text in CASES:
        rec = run(name, ct, text)
        key = "%s %s %s" % (name, ct, text.encode("unicode_escape").decode())
        if key in CAIRN:
            rec["cairn"] = CAIRN[key]
        out["cases"].append(rec)
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)
    import warnings

    warnings.simplefilter("ignore")
    main()
