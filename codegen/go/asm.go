package gogen

import (
	"fmt"

	"go/constant"
	"go/token"
	"math"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/mdlc/mdlc/ir"
)

// Fused AVX2 loops. A strip-mined loop (vec.go) keeps every intermediate
// in a strip of memory: each op loads its operands and stores its result,
// so the Adam update spends its time in L1 traffic (122 µs for the MNIST
// MLP's 203,530 params on 2 cores, where streaming the same arrays once
// takes 42 µs). For the optimizer loop the generator also writes an AVX2
// function into model_amd64.s that computes all members 8 elements at a
// time in registers. It uses the same instructions as the vector
// primitives, so its results are bit-identical to theirs and to the
// scalar code; model.go calls it through a function variable that
// model_amd64.go sets when the CPU has AVX2, and keeps the strip-mined
// loop for every other machine (model.go alone is a complete package).

// asmFunc is one generated assembly function.
type asmFunc struct {
	name   string     // Go name of the function (updateAVX2Asm)
	goVar  string     // the function variable model.go calls (updateAVX2)
	params []jen.Code // its Go parameters
	text   string     // its assembly
}

// Register roles. Scratch registers hold operands that must be in a
// register (memory operands, and every operand of the scalar tail).
const (
	regS1, regS2, regS3 = 15, 14, 13
	firstConstReg       = 12 // constants (zero, one, sign) count down from here
)

// asmBinary and asmCompare give the packed instruction and the VCMPPS
// predicate of each op.
var asmBinary = map[string]string{"add": "VADDPS", "sub": "VSUBPS", "mul": "VMULPS", "div": "VDIVPS"}
var asmCompare = map[string]int{"eq": 0, "lt": 1, "le": 2, "ne": 4, "ge": 13, "gt": 14}

// asmOp reports whether v is an op the register loops compute.
func asmOp(v *ir.Value) bool {
	switch op := v.Op.Name; {
	case v.Op.Identity, asmBinary[op] != "", op == "eq":
		return true
	case asmCompare[op] != 0:
		return true
	}
	return v.Op.Name == "sqrt" || v.Op.Name == "neg" || v.Op.Name == "relu" || v.Op.Name == "where"
}

// asm writes the loop as an AVX2 function name(n int, p0.. *float32,
// f0.. float32): slice operands and outputs are the pointers, splats that
// are not constants the floats. It returns the function, the Go arguments
// of a call for a loop of length n, and false when the loop needs more
// registers than there are (the strip-mined loop then runs everywhere).
func (l *vecLoop) asm(name, n string) (asmFunc, []string, bool) {
	// Pointers: every slice read or written, in first-use order.
	ptrRegs := []string{"SI", "DI", "DX", "R8", "R9", "R10", "R11", "R12", "R13"}
	ptr := map[string]int{}
	var ptrNames []string
	addPtr := func(s string) {
		if _, ok := ptr[s]; !ok {
			ptr[s] = len(ptrNames)
			ptrNames = append(ptrNames, s)
		}
	}
	for _, v := range l.members {
		if !asmOp(v) {
			return asmFunc{}, nil, false // a transcendental: its primitive's loop is as good
		}
	}
	for _, v := range l.members {
		for _, a := range v.Args {
			if s := l.slices[a]; s != "" && !l.member(a) {
				addPtr(s)
			}
		}
		if l.outs[v] != "" {
			if v.Op.Identity {
				return asmFunc{}, nil, false
			}
			addPtr(l.outs[v])
		}
	}
	if l.sink != nil {
		if a := l.sink.Args[0]; !l.member(a) && l.slices[a] != "" {
			addPtr(l.slices[a])
		}
		addPtr(l.sinkTo)
	}
	if len(ptrNames) == 0 || len(ptrNames) > len(ptrRegs) {
		return asmFunc{}, nil, false
	}
	// Constant registers the ops need.
	constReg := map[string]int{}
	nextConst := firstConstReg
	need := func(c string) {
		if _, ok := constReg[c]; !ok {
			constReg[c] = nextConst
			nextConst--
		}
	}
	for _, v := range l.members {
		switch {
		case v.Op.Name == "relu" || v.Op.Name == "where":
			need("zero")
		case v.Op.Name == "neg":
			need("sign")
		case asmCompare[v.Op.Name] != 0 || v.Op.Name == "eq":
			need("one")
		}
	}
	// Splats, then members by liveness, from register 0 up.
	free := nextConst + 1 // registers 0..free-1 are for splats and members
	if len(l.splats) > free {
		return asmFunc{}, nil, false
	}
	reg, _, ok := l.assign(func(*ir.Value) bool { return false }, func(v *ir.Value) bool { return l.outs[v] != "" },
		len(l.splats), free)
	if !ok {
		return asmFunc{}, nil, false
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, "\t"+format+"\n", args...) }
	// Arguments: n, the pointers, the non-constant splats.
	var params []string
	var decl []jen.Code
	callArgs := []string{n}
	params = append(params, "n int")
	decl = append(decl, jen.Id("n").Int())
	for i, s := range ptrNames {
		params = append(params, fmt.Sprintf("p%d *float32", i))
		decl = append(decl, jen.Id(fmt.Sprintf("p%d", i)).Op("*").Float32())
		callArgs = append(callArgs, "&"+s+"[0]")
	}
	type floatArg struct {
		splat int
		off   int
	}
	var floats []floatArg
	off := 8 + 8*len(ptrNames)
	for i, v := range l.splatV {
		if _, ok := l.constBits(v); ok {
			continue
		}
		decl = append(decl, jen.Id(fmt.Sprintf("f%d", len(floats))).Float32())
		params = append(params, fmt.Sprintf("f%d float32", len(floats)))
		callArgs = append(callArgs, l.splats[i])
		floats = append(floats, floatArg{i, off})
		off += 4
	}
	argSize := off
	fmt.Fprintf(&b, "// func %s(%s)\n", name, strings.Join(params, ", "))
	fmt.Fprintf(&b, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, argSize)
	p("MOVQ n+0(FP), CX")
	for i := range ptrNames {
		p("MOVQ p%d+%d(FP), %s", i, 8+8*i, ptrRegs[i])
	}
	broadcastBits := func(bits uint32, r int) {
		p("MOVL $0x%08x, AX", bits)
		p("VMOVD AX, X%d", r)
		p("VBROADCASTSS X%d, Y%d", r, r)
	}
	for _, c := range []struct {
		name string
		bits uint32
	}{{"zero", 0}, {"one", 0x3f800000}, {"sign", 0x80000000}} {
		if rg, ok := constReg[c.name]; ok {
			broadcastBits(c.bits, rg)
		}
	}
	fi := 0
	for i, v := range l.splatV {
		if bits, ok := l.constBits(v); ok {
			broadcastBits(bits, i)
			continue
		}
		p("VBROADCASTSS f%d+%d(FP), Y%d", fi, floats[fi].off, i)
		fi++
	}
	p("XORQ AX, AX")

	// body writes one iteration: 8 elements (Y registers, memory operands
	// where the instruction takes one) or, in the tail, 1 (X registers,
	// every memory operand loaded with VMOVSS first: a packed instruction
	// would read past the end).
	body := func(tail bool) {
		r := "Y"
		load := "VMOVUPS"
		if tail {
			r, load = "X", "VMOVSS"
		}
		rn := func(i int) string { return fmt.Sprintf("%s%d", r, i) }
		mem := func(a *ir.Value) (string, bool) {
			a = l.root(a)
			switch {
			case l.member(a):
				return rn(reg[a]), true
			case l.slices[a] != "":
				return fmt.Sprintf("(%s)(AX*4)", ptrRegs[ptr[l.slices[a]]]), false
			}
			return rn(l.splat[l.scalar(a)]), true
		}
		inReg := func(a *ir.Value, scratch int) string {
			s, ok := mem(a)
			if ok {
				return s
			}
			p("%s %s, %s", load, s, rn(scratch))
			return rn(scratch)
		}
		any := func(a *ir.Value, scratch int) string { // a register or, in the main loop, memory
			if tail {
				return inReg(a, scratch)
			}
			s, _ := mem(a)
			return s
		}
		for _, v := range l.members {
			if v.Op.Identity {
				continue
			}
			d := rn(reg[v])
			a := v.Args
			switch op := v.Op.Name; {
			case asmBinary[op] != "":
				x := inReg(a[0], regS1)
				y := any(a[1], regS2)
				p("%s %s, %s, %s", asmBinary[op], y, x, d)
			case op == "sqrt":
				x := any(a[0], regS1)
				if tail {
					p("VSQRTSS %s, %s, %s", x, x, d)
				} else {
					p("VSQRTPS %s, %s", x, d)
				}
			case op == "neg":
				p("VXORPS %s, %s, %s", any(a[0], regS1), rn(constReg["sign"]), d)
			case op == "relu":
				// VMAXPS returns its second source (zero) for NaN and for
				// two zeros: relu's NaN -> 0 and -0 -> +0.
				p("VMAXPS %s, %s, %s", rn(constReg["zero"]), inReg(a[0], regS1), d)
			case op == "where":
				c := any(a[0], regS1)
				p("VCMPPS $4, %s, %s, %s", c, rn(constReg["zero"]), rn(regS1))
				x := any(a[1], regS2)
				y := inReg(a[2], regS3)
				p("VBLENDVPS %s, %s, %s, %s", rn(regS1), x, y, d)
			default: // a comparison: 1 where it holds
				x := inReg(a[0], regS1)
				y := any(a[1], regS2)
				p("VCMPPS $%d, %s, %s, %s", asmCompare[op], y, x, d)
				p("VANDPS %s, %s, %s", rn(constReg["one"]), d, d)
			}
		}
		store := "VMOVUPS"
		if tail {
			store = "VMOVSS"
		}
		if l.sink != nil { // sinkTo[j] += x: the scalar code's s + x (addition commutes exactly)
			x := inReg(l.sink.Args[0], regS2)
			s := fmt.Sprintf("(%s)(AX*4)", ptrRegs[ptr[l.sinkTo]])
			p("%s %s, %s", load, s, rn(regS1))
			p("VADDPS %s, %s, %s", x, rn(regS1), rn(regS1))
			p("%s %s, %s", store, rn(regS1), s)
		}
		for _, v := range l.members {
			if o := l.outs[v]; o != "" {
				p("%s %s, (%s)(AX*4)", store, rn(reg[v]), ptrRegs[ptr[o]])
			}
		}
	}
	fmt.Fprintf(&b, "%sloop:\n", name)
	p("LEAQ 8(AX), BX")
	p("CMPQ BX, CX")
	p("JGT %stail", name)
	body(false)
	p("MOVQ BX, AX")
	p("JMP %sloop", name)
	fmt.Fprintf(&b, "%stail:\n", name)
	p("CMPQ AX, CX")
	p("JGE %sdone", name)
	body(true)
	p("INCQ AX")
	p("JMP %stail", name)
	fmt.Fprintf(&b, "%sdone:\n", name)
	p("VZEROUPPER")
	p("RET")
	return asmFunc{name: name, params: decl, text: b.String()}, callArgs, true
}

// constBits reports the float32 bits of a splat that is a constant, as
// Go's constant conversion float32(literal) rounds it.
func (l *vecLoop) constBits(v *ir.Value) (uint32, bool) {
	src := l.k.p.source(v)
	if !src.Op.Inline || src.Op.Name != "const" {
		return 0, false
	}
	x := src.Attrs.Float("value")
	switch { // as literal writes them
	case math.IsNaN(x):
		return math.Float32bits(float32(math.NaN())), true
	case x > math.MaxFloat32:
		return math.Float32bits(float32(math.Inf(1))), true
	case x < -math.MaxFloat32:
		return math.Float32bits(float32(math.Inf(-1))), true
	}
	c := constant.MakeFromLiteral(fmt.Sprint(x), token.FLOAT, 0)
	if c.Kind() == constant.Unknown {
		return math.Float32bits(float32(x)), true
	}
	f, _ := constant.Float32Val(c)
	return math.Float32bits(f), true
}
