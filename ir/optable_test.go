package ir

import (
	"slices"
	"strings"
	"testing"
)

// TestOpTableComplete walks the op table: every op has a doc line, a shape
// rule and (unless its values are bound from outside) a reference kernel;
// attribute names are unique per op and every attribute kind is valid.
func TestOpTableComplete(t *testing.T) {
	ops := Ops()
	if len(ops) != len(opTable) {
		t.Fatalf("Ops() returned %d ops, the table has %d", len(ops), len(opTable))
	}
	if !slices.IsSortedFunc(ops, func(a, b *OpDef) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("Ops() is not sorted by name")
	}
	for _, op := range ops {
		if op.Name == "" {
			t.Errorf("op with an empty name: %+v", op)
			continue
		}
		if LookupOp(op.Name) != op {
			t.Errorf("%s: LookupOp does not return the table entry", op.Name)
		}
		if strings.TrimSpace(op.Doc) == "" {
			t.Errorf("%s: no Doc", op.Name)
		} else if strings.Contains(op.Doc, "\n") {
			t.Errorf("%s: Doc is more than one line", op.Name)
		}
		if op.Shape == nil {
			t.Errorf("%s: no Shape rule", op.Name)
		}
		if op.Eval == nil && !op.Bound {
			t.Errorf("%s: no Eval kernel", op.Name)
		}
		if op.Bound && op.Eval != nil {
			t.Errorf("%s: bound from outside but has an Eval kernel the interpreter never calls", op.Name)
		}
		if op.Arity < -1 {
			t.Errorf("%s: arity %d", op.Name, op.Arity)
		}
		if int(op.Kind) >= len(fusionKindNames) {
			t.Errorf("%s: invalid fusion kind %d", op.Name, op.Kind)
		}
		if (op.Kind == KindSource) != (op.Arity == 0) {
			t.Errorf("%s: kind %s with arity %d (exactly the source ops take no args)", op.Name, op.Kind, op.Arity)
		}
		seen := map[string]bool{}
		for _, a := range op.Attrs {
			if a.Name == "" {
				t.Errorf("%s: attribute with an empty name", op.Name)
			}
			if seen[a.Name] {
				t.Errorf("%s: attribute %q declared twice", op.Name, a.Name)
			}
			seen[a.Name] = true
			if int(a.Kind) >= len(attrKindNames) {
				t.Errorf("%s: attribute %q has invalid kind %d", op.Name, a.Name, a.Kind)
			}
		}
	}
	for _, name := range []string{"input", "param", "state"} {
		if op := LookupOp(name); op == nil || !op.Bound {
			t.Errorf("%s: missing or not Bound", name)
		}
	}
}

// TestOpFacts checks that the facts of every op agree with each other:
// backends and passes rely on them instead of op names.
func TestOpFacts(t *testing.T) {
	for _, op := range Ops() {
		computed := !op.Bound && !op.Inline && !op.View
		if computed != (op.Family != FamilyNone) || int(op.Family) >= int(NumFamilies) {
			t.Errorf("%s: family %s, computed %v (every computed op has a family, no other op has one)", op.Name, op.Family, computed)
		}
		contraction := op.Family == FamilyContraction || op.Kind == KindContraction && op.Family == FamilyConv // matmul; conv2d
		if (op.Family == FamilyElementwise) != (op.Kind == KindElementwise) || contraction != (op.Kind == KindContraction) {
			t.Errorf("%s: family %s with kind %s", op.Name, op.Family, op.Kind)
		}
		if (op.Bound || op.Inline) && op.Kind != KindSource {
			t.Errorf("%s: bound or inline but of kind %s", op.Name, op.Kind)
		}
		if op.Inline && op.Arity != 0 || op.View && op.Arity != 1 || op.Identity && (op.Arity != 1 || op.Kind != KindElementwise) {
			t.Errorf("%s: inline, view or identity with arity %d", op.Name, op.Arity)
		}
		if op.Operator != "" && (op.Kind != KindElementwise || op.Arity < 1 || op.Arity > 2) {
			t.Errorf("%s: operator %q on a %s op of arity %d", op.Name, op.Operator, op.Kind, op.Arity)
		}
		if op.Reduce != ReduceNone && (op.Kind != KindReduction || op.Family != FamilyReduce || op.Attr("axes") == nil) {
			t.Errorf("%s: an accumulating reduction needs kind reduction, family reduce and axes", op.Name)
		}
		if op.Scratch != nil && !computed {
			t.Errorf("%s: a workspace for an op that is not computed", op.Name)
		}
		if op.IndexBound != nil && op.Arity == 0 {
			t.Errorf("%s: bounds the index of an arg it does not have", op.Name)
		}
	}
}

// TestCheckAttrsKinds checks that checkAttrs accepts a value of each
// attribute kind and rejects a value of another type, so no kind is
// silently unchecked.
func TestCheckAttrsKinds(t *testing.T) {
	good := map[AttrKind]any{
		AttrInt: 1, AttrInts: []int{1}, AttrFloat: 1.0, AttrFloats: []float64{1},
		AttrBool: true, AttrString: "s", AttrDType: F32, AttrShape: Shape{N, 2},
	}
	bad := map[AttrKind]any{
		AttrInt: 1.0, AttrInts: []float64{1}, AttrFloat: 1, AttrFloats: []int{1},
		AttrBool: 1, AttrString: F32, AttrDType: "f32", AttrShape: []int{2},
	}
	if len(good) != len(attrKindNames) {
		t.Fatalf("test covers %d attribute kinds, there are %d", len(good), len(attrKindNames))
	}
	for k := range AttrKind(len(attrKindNames)) {
		op := &OpDef{Name: "probe", Attrs: []AttrSpec{{Name: "a", Kind: k}}}
		if err := checkAttrs(op, Attrs{"a": good[k]}); err != nil {
			t.Errorf("kind %s: good value rejected: %v", k, err)
		}
		err := checkAttrs(op, Attrs{"a": bad[k]})
		if err == nil || !strings.Contains(err.Error(), k.String()) {
			t.Errorf("kind %s: bad value %T: error %v, want one naming the kind", k, bad[k], err)
		}
		if err := checkAttrs(op, Attrs{}); err == nil {
			t.Errorf("kind %s: missing required attribute accepted", k)
		}
		op.Attrs[0].Optional = true
		if err := checkAttrs(op, Attrs{}); err != nil {
			t.Errorf("kind %s: missing optional attribute rejected: %v", k, err)
		}
		if err := checkAttrs(op, Attrs{"b": 1}); err == nil || !strings.Contains(err.Error(), `unknown attribute "b"`) {
			t.Errorf("kind %s: unknown attribute: error %v", k, err)
		}
	}
}
