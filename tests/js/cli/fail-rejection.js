Promise.reject(new Error('rejected failure'));
