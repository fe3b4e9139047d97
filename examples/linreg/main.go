// Command linreg trains examples/linreg/linreg.mdl, compiled to the Go
// package ./linreg, on the classic five points: 1000 full-batch steps of
// gradient descent with learning rate 0.01 from theta0 = theta1 = 0.
package main

//go:generate go run github.com/mdlc/mdlc/cmd/mdlc build -o linreg -batch 5 linreg.mdl

import (
	"fmt"
	"log"

	"github.com/mdlc/mdlc/examples/linreg/linreg"
)

func main() {
	x := []float32{1, 2, 3, 4, 5}
	y := []float32{2, 4, 5, 4, 5}
	m := linreg.New()
	var loss float32
	for step := 1; step <= 1000; step++ {
		var err error
		if loss, err = m.TrainStep(x, y, len(x)); err != nil {
			log.Fatal(err)
		}
		if step == 1 || step%250 == 0 {
			fmt.Printf("step %4d  loss %.6f\n", step, loss)
		}
	}
	p := m.Params()
	fmt.Printf("theta0 = %.6f\ntheta1 = %.6f\n", p[0].Data[0], p[1].Data[0])
}
