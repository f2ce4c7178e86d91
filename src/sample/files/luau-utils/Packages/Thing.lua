return require(script.Parent._Index["someone_thing@1.0.0"]["thing"])
