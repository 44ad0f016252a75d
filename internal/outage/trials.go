package outage

import "sync"

// Trials plays n trials, parallel at a time (each builds its own server
// and candidates), and returns the results of those that could be played
// and the errors of those that could not, each in the order they ended.
func Trials[R any](n, parallel int, trial func() (R, error)) ([]R, []error) {
	var (
		mu   sync.Mutex
		out  []R
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, max(1, parallel))
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := trial()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out = append(out, r)
		}()
	}
	wg.Wait()
	return out, errs
}
